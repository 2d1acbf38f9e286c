"""Ambiguous matches (rule 11: several POS candidates, the oldest taken) and near matches (rule 10: one key
matched, the email differed), and the operator's correction: link the Shopify customer to the POS customer
they name, then resync it through that link."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from possync.models import links
from possync.models.tables import CustomerLink, NearMatch, PosIndexEntry, SyncJob

PAGE_SIZE = 100


@dataclass(frozen=True)
class Ambiguous:
    job_id: int
    tenant_id: int
    shopify_id: str | None
    linked_to: str | None  # the POS customer the link points at now
    candidates: list[str]


def ambiguous(session: Session, tenant_id: int | None = None, limit: int = PAGE_SIZE) -> list[Ambiguous]:
    """The newest ambiguous matches, one per Shopify customer (its latest job)."""
    query = select(SyncJob).where(SyncJob.ambiguous.is_(True)).order_by(SyncJob.id.desc()).limit(limit * 2)
    if tenant_id is not None:
        query = query.where(SyncJob.tenant_id == tenant_id)
    latest: dict[tuple[int, str | None], SyncJob] = {}
    for job in session.scalars(query):
        if len(latest) < limit:
            latest.setdefault((job.tenant_id, job.subject), job)
    subjects = {subject for _, subject in latest if subject}
    linked: dict[tuple[int, str | None], str]
    linked = {(link.tenant_id, link.shopify_customer_id): link.pos_customer_id for link in session.scalars(
        select(CustomerLink).where(CustomerLink.tenant_id.in_({t for t, _ in latest}),
                                   CustomerLink.shopify_customer_id.in_(subjects)))} if subjects else {}
    return [Ambiguous(job.id, job.tenant_id, job.subject, linked.get((job.tenant_id, job.subject)),
                      [str(c) for c in (job.context or {}).get("candidates") or []]) for job in latest.values()]


def near_matches(session: Session, tenant_id: int | None = None, limit: int = PAGE_SIZE) -> list[NearMatch]:
    query = select(NearMatch).order_by(NearMatch.id.desc()).limit(limit)
    if tenant_id is not None:
        query = query.where(NearMatch.tenant_id == tenant_id)
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
