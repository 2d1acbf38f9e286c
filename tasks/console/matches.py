"""Ambiguous matches (rule 11: several POS candidates, the oldest taken) and near matches (rule 10: one key
matched, the email differed), and the operator's correction: link the Shopify customer to the POS customer
they name, then resync it through that link."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from possync.models import links
from possync.models.tables import CustomerLink, NearMatch, PosIndexEntry, SyncJob

PAGE_SIZE = 50  # rows per list: each carries its forms, and the HTML is most of the page's time


@dataclass(frozen=True)
class Ambiguous:
    job_id: int
    tenant_id: int
    shopify_id: str | None
    linked_to: str | None  # the POS customer the link points at now
    candidates: list[str]


def ambiguous(session: Session, tenant_id: int | None = None, limit: int = PAGE_SIZE) -> list[Ambiguous]:
    """The newest ambiguous matches, one per Shopify customer (its latest job)."""
    # The candidates only, not the whole context (the Shopify customer read, the POS record written).
    query = select(SyncJob.id, SyncJob.tenant_id, SyncJob.subject, SyncJob.context["candidates"])\
        .where(SyncJob.ambiguous.is_(True)).order_by(SyncJob.id.desc()).limit(limit * 2)
    if tenant_id is not None:
        query = query.where(SyncJob.tenant_id == tenant_id)
    latest: dict[tuple[int, str | None], tuple[int, list[str]]] = {}
    for job_id, job_tenant, subject, candidates in session.execute(query):
        if len(latest) < limit:
            latest.setdefault((job_tenant, subject), (job_id, [str(c) for c in candidates or []]))
    subjects = {subject for _, subject in latest if subject}
    linked: dict[tuple[int, str | None], str]
    linked = {(t, shopify_id): pos_id for t, shopify_id, pos_id in session.execute(
        select(CustomerLink.tenant_id, CustomerLink.shopify_customer_id, CustomerLink.pos_customer_id)
        .where(CustomerLink.tenant_id.in_({t for t, _ in latest}), CustomerLink.shopify_customer_id.in_(subjects)))
    } if subjects else {}
    return [Ambiguous(job_id, key[0], key[1], linked.get(key), candidates)
            for key, (job_id, candidates) in latest.items()]


def near_matches(session: Session, tenant_id: int | None = None, limit: int = PAGE_SIZE,
                 shopify_id: str | None = None) -> list[NearMatch]:
    """The newest near matches, of one tenant (and one Shopify customer of it) or of all."""
    query = select(NearMatch).order_by(NearMatch.id.desc()).limit(limit)
    if tenant_id is not None:
        query = query.where(NearMatch.tenant_id == tenant_id)
        if shopify_id is not None:
            query = query.where(NearMatch.shopify_customer_id == shopify_id)
    return list(session.scalars(query))


def relink(session: Session, tenant_id: int, shopify_id: str, pos_id: str) -> str | None:
    """Point the Shopify customer's link at `pos_id` (the operator's word: not contradicted); returns the
    POS customer it pointed at before. `LookupError` when possync does not know that POS customer."""
    known = session.scalar(select(PosIndexEntry.id).where(PosIndexEntry.tenant_id == tenant_id,
                                                          PosIndexEntry.pos_customer_id == pos_id))
    if known is None:
        raise LookupError(f"POS customer {pos_id} is not in this tenant's index")
    before = links.get_link(session, tenant_id, shopify_id)
    links.save_link(session, tenant_id, shopify_id, pos_id, contradicted=False)
    return before.pos_customer_id if before else None
