"""The console's failed syncs: filtered by tenant, destination and error class, newest first, a page at a time."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from possync.models.tables import JobStatus, SyncAttempt, SyncJob
from possync.tasks import destinations

PAGE_SIZE = 50
# Where a sync writes, as `possync failed list --destination` names it: the tenant's POS or CRM (a Shopify change),
# or Shopify (a POS change).
DESTINATIONS = {**{d.name: d.direction for d in destinations.DESTINATIONS}, "shopify": "pos_to_shopify"}
# What a merchant can do about each error class; the job's own message says which field or call.
ADVICE = {
    "missing_fields": "Fix the customer in Shopify (the message names what is missing), then Replay.",
    "configuration": "A tenant setting is wrong (the message says which): fix the tenant file, then Replay.",
    "AuthenticationError": "The vendor refused the credentials: update them with `possync tenant apply`, then Replay.",
    "RefreshTokenError": "The POS login expired: authorise the tenant again, then Replay.",
    "RetryableError": "The vendor kept failing: once it answers again (see the attempts), Replay.",
    "FatalError": "The vendor refused the change (the message says why): fix the customer in Shopify, then Replay.",
    "BadResponseError": "The vendor answered something possync cannot read: Replay once it is healthy.",
}
DEFAULT_ADVICE = "Replay retries from the step that failed; the customer's story shows each attempt."


@dataclass(frozen=True)
class Filters:
    tenant_id: int | None = None
    destination: str | None = None  # a key of DESTINATIONS
    error_class: str | None = None
    before_id: int | None = None  # the next page: jobs older than this one

    def conditions(self) -> list[Any]:
        where: list[Any] = [SyncJob.status == JobStatus.FAILED.value]
        if self.tenant_id is not None:
            where.append(SyncJob.tenant_id == self.tenant_id)
        if self.destination in DESTINATIONS:
            where.append(SyncJob.direction == DESTINATIONS[self.destination])
        if self.error_class:
            where.append(SyncJob.last_error_class == self.error_class)
        return where


def failed_page(session: Session, filters: Filters, limit: int = PAGE_SIZE) -> list[SyncJob]:
    where = filters.conditions()
    if filters.before_id is not None:
        where.append(SyncJob.id < filters.before_id)
    return list(session.scalars(select(SyncJob).where(*where).order_by(SyncJob.id.desc()).limit(limit)))


def error_classes(session: Session, filters: Filters) -> dict[str, int]:
    """Failed jobs per error class under the tenant and destination filters (for the class filter's choices)."""
    where = Filters(filters.tenant_id, filters.destination).conditions()
    rows = session.execute(select(SyncJob.last_error_class, func.count()).where(*where)
                           .group_by(SyncJob.last_error_class).order_by(SyncJob.last_error_class))
    return {str(name or "unknown"): count for name, count in rows}


def advice(error_class: str | None) -> str:
    return ADVICE.get(error_class or "", DEFAULT_ADVICE)


def failed_ids(session: Session, filters: Filters) -> list[int]:
    """Every failed job under the filters (what "Replay all shown" replays)."""
    return list(session.scalars(select(SyncJob.id).where(*filters.conditions()).order_by(SyncJob.id)))


def job_with_attempts(session: Session, job_id: int) -> tuple[SyncJob, list[SyncAttempt]] | None:
    """One job and its attempts by time (`possync failed show`)."""
    job = session.get(SyncJob, job_id)
    if job is None:
        return None
    return job, list(session.scalars(select(SyncAttempt).where(SyncAttempt.job_id == job_id)
                                     .order_by(SyncAttempt.started_at, SyncAttempt.id)))
