"""Links between a Shopify customer and a POS customer (SPEC rules 12, 13, 33), with echo fingerprints.

One row per (tenant, Shopify customer id), enforced by a unique constraint: two workers that save a
link for the same Shopify customer at the same time end with one row, never two. Saving is
insert-first inside a SAVEPOINT; the loser of a race gets an IntegrityError, rolls back only its
savepoint and updates the winner's row, so the surrounding transaction stays usable.

A POS customer may be linked from several Shopify customers (a phone shared by two online
accounts): lookups by POS id return the oldest link first.

None of these functions commit; the caller owns the transaction.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from models.tables import CustomerLink, PosStatus


def get_link(session: Session, tenant_id: int, shopify_id: str) -> CustomerLink | None:
    return session.scalar(
        select(CustomerLink)
        .where(CustomerLink.tenant_id == tenant_id, CustomerLink.shopify_customer_id == str(shopify_id))
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
) -> CustomerLink:
    """Create or update the link of `shopify_id` to `pos_id`; safe against a concurrent save.

    A fingerprint left as None keeps the stored one, unless the link now points at another POS
    customer: fingerprints of the old customer say nothing about the new one, so they are cleared.
    The link's `pos_status` is set to active (a link is only saved to a customer possync uses).
    """
    shopify_id, pos_id = str(shopify_id), str(pos_id)
    link = get_link(session, tenant_id, shopify_id)
    if link is None:
        link = CustomerLink(
            tenant_id=tenant_id,
            shopify_customer_id=shopify_id,
            pos_customer_id=pos_id,
            pos_status=PosStatus.ACTIVE.value,
            pos_fingerprint=pos_fingerprint,
            shopify_fingerprint=shopify_fingerprint,
        )
        try:
            with session.begin_nested():
                session.add(link)
        except IntegrityError:
            # Another transaction inserted this Shopify customer's link first (rule 33): use its row.
            link = get_link(session, tenant_id, shopify_id)
            if link is None:  # pragma: no cover - the conflicting row vanished (deleted concurrently)
                raise
        else:
            return link
    _update(link, pos_id, pos_fingerprint, shopify_fingerprint)
    session.flush()
    return link


def _update(link: CustomerLink, pos_id: str, pos_fp: str | None, shopify_fp: str | None) -> None:
    if link.pos_customer_id != pos_id:
        link.pos_customer_id = pos_id
        link.pos_fingerprint = None
        link.shopify_fingerprint = None
    if link.pos_status != PosStatus.ACTIVE.value:
        link.pos_status = PosStatus.ACTIVE.value
    if pos_fp is not None:
        link.pos_fingerprint = pos_fp
    if shopify_fp is not None:
        link.shopify_fingerprint = shopify_fp
    link.updated_at = datetime.now(UTC)


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
    result = session.execute(
        delete(CustomerLink)
        .where(CustomerLink.tenant_id == tenant_id, CustomerLink.shopify_customer_id == str(shopify_id))
        .execution_options(synchronize_session="fetch")
    )
    return bool(result.rowcount)


def drop_links_to_pos(session: Session, tenant_id: int, pos_id: str) -> int:
    """Remove every link to this POS customer (it is gone for good, or privacy); returns links removed."""
    result = session.execute(
        delete(CustomerLink)
        .where(CustomerLink.tenant_id == tenant_id, CustomerLink.pos_customer_id == str(pos_id))
        .execution_options(synchronize_session="fetch")
    )
    return result.rowcount or 0


def move_links(session: Session, tenant_id: int, from_shopify_id: str, to_shopify_id: str) -> CustomerLink | None:
    """Re-point the link of a Shopify customer merged away to the kept customer (rule 13).

    If the kept customer already has a link, that link stays and the merged-away one is dropped:
    the kept customer's POS record is the one its orders have been going to. Returns the kept
    customer's link afterwards (None when neither had one). Running it twice changes nothing.
    """
    from_shopify_id, to_shopify_id = str(from_shopify_id), str(to_shopify_id)
    if from_shopify_id == to_shopify_id:
        return get_link(session, tenant_id, to_shopify_id)
    old = get_link(session, tenant_id, from_shopify_id)
    kept = get_link(session, tenant_id, to_shopify_id)
    if old is None:
        return kept
    if kept is not None:
        drop_link(session, tenant_id, from_shopify_id)
        return kept
    try:
        with session.begin_nested():
            old.shopify_customer_id = to_shopify_id
            old.updated_at = datetime.now(UTC)
            # The fingerprint of what was written to Shopify belongs to the deleted customer.
            old.shopify_fingerprint = None
            session.flush()
    except IntegrityError:
        # A link for the kept customer was saved concurrently: it wins, as above.
        drop_link(session, tenant_id, from_shopify_id)
        return get_link(session, tenant_id, to_shopify_id)
    return old
