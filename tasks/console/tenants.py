"""The console's tenants page: `possync status`'s rows, plus each tenant's syncs finished since midnight UTC."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from possync.models.tables import JobStatus, SyncJob, Tenant
from possync.tasks.operations import status_rows


def start_of_day(now: datetime | None = None) -> datetime:
    now = now or datetime.now(UTC)
    return now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def today_by_outcome(session: Session, tenant_ids: list[int], since: datetime) -> dict[int, dict[str, int]]:
    """Syncs succeeded since `since`, per tenant and outcome: one statement over the tenants' ranges of
    `ix_sync_jobs_tenant_finished` (an index-only scan, so the cost is the day's syncs, not the history's)."""
    if not tenant_ids:
        return {}
    rows = session.execute(select(SyncJob.tenant_id, SyncJob.outcome, func.count())
                           .where(SyncJob.tenant_id.in_(tenant_ids), SyncJob.finished_at >= since,
                                  SyncJob.status == JobStatus.SUCCEEDED.value)
                           .group_by(SyncJob.tenant_id, SyncJob.outcome))
    today: dict[int, dict[str, int]] = {}
    for tenant_id, outcome, n in rows:
        today.setdefault(tenant_id, {})[str(outcome)] = n
    return today


def overview(session: Session, now: datetime | None = None) -> list[dict[str, Any]]:
    """Each tenant's `possync status` row (maintained counts) with `today`: its syncs today by outcome."""
    rows = status_rows(session)
    ids = dict(session.execute(select(Tenant.name, Tenant.id)).all())
    today = today_by_outcome(session, list(ids.values()), start_of_day(now))
    return [{**row, "today": today.get(ids[row["tenant"]], {})} for row in rows]


def tenant_names(session: Session) -> dict[int, str]:
    return dict(session.execute(select(Tenant.id, Tenant.name).order_by(Tenant.name)).all())
