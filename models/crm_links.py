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
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

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
    """Rule 13 for the CRM: the contact of a Shopify customer merged away now belongs to the kept one.

    The kept customer's own contact wins when it has one (the merged-away link is dropped). A moved link
    loses its fingerprint: what was written came from the deleted customer, so the next sync writes.
    """
    from_shopify_id, to_shopify_id = str(from_shopify_id), str(to_shopify_id)
    kept = get_crm_link(session, tenant_id, to_shopify_id)
    if from_shopify_id == to_shopify_id:
        return kept
    old = get_crm_link(session, tenant_id, from_shopify_id)
    if old is None:
        return kept
    if kept is not None:
        drop_crm_links(session, tenant_id, from_shopify_id)
        return kept
    try:
        with session.begin_nested():
            old.shopify_customer_id, old.written_fingerprint = to_shopify_id, None
            old.updated_at = datetime.now(UTC)
            session.flush()
    except IntegrityError:  # the kept customer's contact was linked concurrently: it wins, as above
        drop_crm_links(session, tenant_id, from_shopify_id)
        return get_crm_link(session, tenant_id, to_shopify_id)
    return old


@functools.cache
def _upsert(dialect: str) -> Any:
    table = CrmLink.__table__
    stmt = postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)
    return stmt.on_conflict_do_update(
        index_elements=[table.c.tenant_id, table.c.shopify_customer_id],
        set_={"contact_id": stmt.excluded.contact_id, "written_fingerprint": stmt.excluded.written_fingerprint,
              "updated_at": stmt.excluded.updated_at})
