"""Links between a Shopify customer and a POS customer (SPEC rules 12, 13, 33), with echo fingerprints.

One row per (tenant, Shopify customer id), enforced by a unique constraint: two workers that save a
link for the same Shopify customer at the same time end with one row, never two. Saving is one
upsert, so a race never raises and the surrounding transaction stays usable.

A POS customer may be linked from several Shopify customers (a phone shared by two online
accounts): lookups by POS id return the oldest link first.

None of these functions commit; the caller owns the transaction.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar, cast

from sqlalchemy import CursorResult, bindparam, case, delete, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from possync.models.tables import CrmLink, CustomerLink, PosStatus

L = TypeVar("L", CustomerLink, CrmLink)  # a link table keyed by (tenant, Shopify customer)


def get_link(session: Session, tenant_id: int, shopify_id: str) -> CustomerLink | None:
    return session.scalar(_GET_LINK, {"tenant_id": tenant_id, "shopify_id": str(shopify_id)})


# Built once: every sync reads its link twice, and building the statement cost as much as the read.
# populate_existing: upserts bypass the identity map, so a link loaded earlier must be read afresh.
_GET_LINK = (
    select(CustomerLink)
    .where(CustomerLink.tenant_id == bindparam("tenant_id"),
           CustomerLink.shopify_customer_id == bindparam("shopify_id"))
    .execution_options(populate_existing=True)
)


def links_for_pos(session: Session, tenant_id: int, pos_id: str) -> list[CustomerLink]:
    """Every link to this POS customer, oldest first (uses `ix_customer_links_tenant_pos`)."""
    stmt = (
        select(CustomerLink)
        .where(CustomerLink.tenant_id == tenant_id, CustomerLink.pos_customer_id == str(pos_id))
        .order_by(CustomerLink.id)
        .execution_options(populate_existing=True)
    )
    return list(session.scalars(stmt))


def get_link_by_pos(session: Session, tenant_id: int, pos_id: str) -> CustomerLink | None:
    """The oldest link to this POS customer (the POS -> Shopify direction's counterpart), or None."""
    links = links_for_pos(session, tenant_id, pos_id)
    return links[0] if links else None


def save_link(
    session: Session,
    tenant_id: int,
    shopify_id: str,
    pos_id: str,
    *,
    pos_fingerprint: str | None = None,
    shopify_fingerprint: str | None = None,
    synced_fingerprint: str | None = None,
    contradicted: bool | None = None,
) -> None:
    """Create or update the link of `shopify_id` to `pos_id` in one `INSERT ... ON CONFLICT DO UPDATE`.

    A fingerprint left as None keeps the stored one, unless the link now points at another POS
    customer: fingerprints of the old customer say nothing about the new one, so they are cleared.
    `contradicted` (rule 10's `link` setting; see the column) is kept the same way when None.
    The link's `pos_status` is set to active (a link is only saved to a customer possync uses). The
    database settles a concurrent save of the same Shopify customer: one row, the later write wins.
    """
    now = datetime.now(UTC)
    session.execute(_upsert_statement(session.get_bind().dialect.name), {
        "tenant_id": tenant_id, "shopify_customer_id": str(shopify_id), "pos_customer_id": str(pos_id),
        "pos_status": PosStatus.ACTIVE.value, "pos_fingerprint": pos_fingerprint,
        "shopify_fingerprint": shopify_fingerprint, "synced_fingerprint": synced_fingerprint,
        "contradicted": contradicted, "created_at": now, "updated_at": now,
    })


@functools.cache
def _upsert_statement(dialect: str) -> Any:
    """Built once per dialect (PostgreSQL, or SQLite for the demo: both have ON CONFLICT)."""
    table = CustomerLink.__table__
    stmt = postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)
    new = stmt.excluded
    same_customer = table.c.pos_customer_id == new.pos_customer_id

    def kept_unless_given(column: str) -> Any:
        return case((same_customer, func.coalesce(new[column], table.c[column])), else_=new[column])

    return stmt.on_conflict_do_update(
        index_elements=[table.c.tenant_id, table.c.shopify_customer_id],
        set_={
            "pos_customer_id": new.pos_customer_id,
            "pos_status": new.pos_status,
            "pos_fingerprint": kept_unless_given("pos_fingerprint"),
            "shopify_fingerprint": kept_unless_given("shopify_fingerprint"),
            "synced_fingerprint": kept_unless_given("synced_fingerprint"),
            "contradicted": kept_unless_given("contradicted"),
            "updated_at": new.updated_at,
        },
    )


def set_fingerprints(
    session: Session,
    tenant_id: int,
    shopify_id: str,
    *,
    pos_fingerprint: str | None = None,
    shopify_fingerprint: str | None = None,
) -> bool:
    """Store what possync just wrote one way or the other (echo suppression, rule 5); False if unlinked."""
    link = get_link(session, tenant_id, shopify_id)
    if link is None:
        return False
    if pos_fingerprint is not None:
        link.pos_fingerprint = pos_fingerprint
    if shopify_fingerprint is not None:
        link.shopify_fingerprint = shopify_fingerprint
    session.flush()
    return True


def drop_link(session: Session, tenant_id: int, shopify_id: str) -> bool:
    """Remove the link of this Shopify customer (its POS customer was archived or deleted, rule 12)."""
    result = cast(CursorResult, session.execute(
        delete(CustomerLink)
        .where(CustomerLink.tenant_id == tenant_id, CustomerLink.shopify_customer_id == str(shopify_id))
        .execution_options(synchronize_session="fetch")
    ))
    return bool(result.rowcount)


def drop_links_to_pos(session: Session, tenant_id: int, pos_id: str) -> int:
    """Remove every link to this POS customer (it is gone for good, or privacy); returns links removed."""
    result = cast(CursorResult, session.execute(
        delete(CustomerLink)
        .where(CustomerLink.tenant_id == tenant_id, CustomerLink.pos_customer_id == str(pos_id))
        .execution_options(synchronize_session="fetch")
    ))
    return result.rowcount or 0


def move_links(session: Session, tenant_id: int, from_shopify_id: str, to_shopify_id: str) -> CustomerLink | None:
    """Re-point the link of a Shopify customer merged away to the kept customer (rule 13): the kept
    customer's own link wins (its POS record is the one its orders have been going to). Returns the kept
    customer's link afterwards (None when neither had one). Running it twice changes nothing."""
    return repoint_or_drop(session, tenant_id, from_shopify_id, to_shopify_id, get=get_link, drop=drop_link,
                           fingerprint="shopify_fingerprint")


def repoint_or_drop(session: Session, tenant_id: int, from_shopify_id: str, to_shopify_id: str, *,
                    get: Callable[[Session, int, str], L | None], drop: Callable[[Session, int, str], object],
                    fingerprint: str) -> L | None:
    """Rule 13 over a link table keyed by (tenant, Shopify customer): the merged-away customer's link moves
    to the kept customer, unless the kept one has its own, which wins (the other is dropped). The moved
    link forgets its `fingerprint` column: what was written came from the deleted customer."""
    from_shopify_id, to_shopify_id = str(from_shopify_id), str(to_shopify_id)
    kept = get(session, tenant_id, to_shopify_id)
    if from_shopify_id == to_shopify_id:
        return kept
    old = get(session, tenant_id, from_shopify_id)
    if old is None:
        return kept
    if kept is not None:
        drop(session, tenant_id, from_shopify_id)
        return kept
    try:
        with session.begin_nested():
            old.shopify_customer_id = to_shopify_id
            old.updated_at = datetime.now(UTC)
            setattr(old, fingerprint, None)
            session.flush()
    except IntegrityError:  # the kept customer's link was saved concurrently: it wins, as above
        drop(session, tenant_id, from_shopify_id)
        return get(session, tenant_id, to_shopify_id)
    return old
