"""Links between a Shopify customer and its CRM contact, with what possync last wrote (SPEC rule 45).

One row per (tenant, Shopify customer), saved with one `INSERT ... ON CONFLICT DO UPDATE`, so two
workers saving the same customer end with one row. None of these functions commit.
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from possync.models.links import repoint_or_drop
from possync.models.tables import CrmLink


def get_crm_link(session: Session, tenant_id: int, shopify_id: str) -> CrmLink | None:
    return session.scalar(select(CrmLink).where(CrmLink.tenant_id == tenant_id,
                                                CrmLink.shopify_customer_id == str(shopify_id))
                          .execution_options(populate_existing=True))


def save_crm_link(session: Session, tenant_id: int, shopify_id: str, contact_id: str, fingerprint: str) -> None:
    now = datetime.now(UTC)
    session.execute(_upsert(session.get_bind().dialect.name), {
        "tenant_id": tenant_id, "shopify_customer_id": str(shopify_id), "contact_id": str(contact_id),
        "written_fingerprint": fingerprint, "created_at": now, "updated_at": now})


def drop_crm_links(session: Session, tenant_id: int, shopify_id: str) -> int:
    """Erase possync's copy of the link (SPEC rule 53); the contact in the CRM is the merchant's record."""
    result = session.execute(delete(CrmLink).where(CrmLink.tenant_id == tenant_id,
                                                   CrmLink.shopify_customer_id == str(shopify_id)))
    return int(getattr(result, "rowcount", 0) or 0)


def move_crm_link(session: Session, tenant_id: int, from_shopify_id: str, to_shopify_id: str) -> CrmLink | None:
    """Rule 13 for the CRM: the contact of a Shopify customer merged away now belongs to the kept one (its
    own contact wins); a moved link is written again at the next sync."""
    return repoint_or_drop(session, tenant_id, from_shopify_id, to_shopify_id, get=get_crm_link,
                           drop=drop_crm_links, fingerprint="written_fingerprint")


@functools.cache
def _upsert(dialect: str) -> Any:
    table = CrmLink.__table__
    stmt = postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)
    return stmt.on_conflict_do_update(
        index_elements=[table.c.tenant_id, table.c.shopify_customer_id],
        set_={"contact_id": stmt.excluded.contact_id, "written_fingerprint": stmt.excluded.written_fingerprint,
              "updated_at": stmt.excluded.updated_at})
