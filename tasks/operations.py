"""What operators do from the CLI: replay failures, resync one customer, poll now, read status.

Where Redis is configured the work goes to the workers; without it (single-process use) it runs
inline in this process through the same steps, so every command also works on the embedded default.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from adapters.errors import RateLimitedError
from models.db import get_sessionmaker
from models.near_matches import count_near_matches
from models.tables import EventStatus, InboundEvent, JobStatus, PollCursor, SyncJob, Tenant
from models.tenants import context_by_name, require_tenant
from tasks import jobs
from tasks.intake import queue_for_tenant
from tasks.runner import run_steps
from tasks.steps import STEP_FUNCTIONS
from worker.routing import POLL_QUEUE, queues_for
from worker.runtime import db_session, limiter, redis_client
from worker.settings import get_settings

INLINE_DEADLINE_SECONDS = 120


def job_queue(session: Session, job: SyncJob) -> str:
    if job.direction == "pos_to_shopify":
        return POLL_QUEUE
    return queue_for_tenant(session.get_one(Tenant, job.tenant_id))


def run_job_inline(job_id: int, deadline: float = INLINE_DEADLINE_SECONDS) -> SyncJob:
    """Run a job's remaining steps here, honouring retry countdowns by waiting (a CLI, not a worker)."""
    factory = get_sessionmaker(get_settings().database_url)
    give_up = time.monotonic() + deadline
    held_turn: float | None = None
    while True:
        outcome = run_steps(job_id, STEP_FUNCTIONS, factory, held_turn=held_turn)
        held_turn = outcome.held_turn
        if outcome.action != "retry" or time.monotonic() + outcome.countdown > give_up:
            with db_session() as session:
                return session.get_one(SyncJob, job_id)
        time.sleep(outcome.countdown)


def dispatch(job_ids: Iterable[int]) -> None:
    """Hand jobs to the workers (Redis configured) or run them here."""
    from tasks.pipeline import enqueue_job

    if get_settings().redis_url:
        with db_session() as session:
            for job_id in job_ids:
                job = session.get_one(SyncJob, job_id)
                enqueue_job(job, job_queue(session, job))
    else:
        for job_id in job_ids:
            run_job_inline(job_id)


def replay(job_ids: Iterable[int] = (), *, all_failed: bool = False, tenant: str | None = None,
           progress: Callable[[int], None] | None = None) -> dict[str, int]:
    """Replay failed jobs from their failed step. A job that is not failed (e.g. since succeeded) is left alone."""
    with db_session() as session:
        if all_failed:
            tenant_id = require_tenant(session, tenant).id if tenant else None
            targets = [j.id for j in jobs.failed_jobs(session, tenant_id)]
        else:
            targets = list(job_ids)
    counts = {"replayed": 0, "skipped": 0, "missing": 0}
    for job_id in targets:
        with db_session() as session:
            job = session.get(SyncJob, job_id)
            if job is None:
                counts["missing"] += 1
                ready = False
            else:
                ready = jobs.prepare_replay(job)
                counts["replayed" if ready else "skipped"] += 1
        if ready:
            dispatch([job_id])
        if progress:
            progress(1)
    return counts


def resync(tenant_name: str, shopify_customer_id: str) -> int:
    """`possync sync`: a fresh job for one Shopify customer, run now."""
    with db_session() as session:
        tenant_id = require_tenant(session, tenant_name).id
        job = jobs.new_job(session, tenant_id=tenant_id, subject=shopify_customer_id,
                           context={"topic": "manual", "customer_id": shopify_customer_id})
        job_id = job.id
    dispatch([job_id])
    return job_id


def poll_now(tenant_name: str) -> dict[str, Any]:
    """`possync poll`: one POS change poll for the tenant, now, in this process; its pushes dispatched."""
    from tasks.clients import pos_adapter_for
    from tasks.poll import poll_tenant

    with db_session() as session:
        tenant = context_by_name(session, tenant_name, get_settings().require_secret_key())
        for attempt in range(5):  # a CLI may wait for the tenant's rate-limit budget (a worker never does)
            try:
                result = poll_tenant(session, tenant, pos_adapter_for(tenant))
                break
            except RateLimitedError as exc:
                session.rollback()
                if attempt == 4:
                    raise
                time.sleep(min(exc.retry_after, 5.0))
    dispatch([s.job_id for s in result.starts])
    return {"tenant": tenant_name, "pages": result.pages, "changed": result.seen, "echoes": result.echoes,
            "jobs": len(result.starts), "cursor": result.cursor}


def queue_depths() -> dict[str, int]:
    if not get_settings().redis_url:
        return {}
    prefix = get_settings().redis_key_prefix
    client = redis_client()
    try:
        return {q: int(client.llen(prefix + q)) for q in queues_for()}
    except Exception:
        return {}


def status() -> list[dict[str, Any]]:
    """Per tenant: backlog, last poll and cursor, failures, rate-limit state, ambiguous matches."""
    rows = []
    with db_session() as session:
        for tenant in session.scalars(select(Tenant).order_by(Tenant.name)):
            def count(*conditions: Any, _t: Tenant = tenant) -> int:
                return session.scalar(select(func.count()).select_from(SyncJob).where(
                    SyncJob.tenant_id == _t.id, *conditions)) or 0

            outcomes = dict(session.execute(
                select(SyncJob.outcome, func.count()).where(SyncJob.tenant_id == tenant.id,
                                                            SyncJob.status == JobStatus.SUCCEEDED.value)
                .group_by(SyncJob.outcome)).all())
            unprocessed = session.scalar(select(func.count()).select_from(InboundEvent).where(
                InboundEvent.tenant_id == tenant.id,
                InboundEvent.status.in_([EventStatus.RECEIVED.value, EventStatus.ENQUEUED.value]))) or 0
            cursor = session.get(PollCursor, tenant.id)
            try:
                rate = limiter().state(f"pos:{tenant.name}")
            except Exception:
                rate = {}
            rows.append({
                "tenant": tenant.name,
                "pos_kind": tenant.pos_kind,
                "backlog": {"jobs": count(SyncJob.status.in_([JobStatus.PENDING.value, JobStatus.RUNNING.value])),
                            "events": unprocessed},
                "succeeded": {str(k): v for k, v in outcomes.items()},
                "failed": count(SyncJob.status == JobStatus.FAILED.value),
                "ambiguous_matches": count(SyncJob.ambiguous.is_(True)),
                "near_matches": count_near_matches(session, tenant.id),
                "last_poll": cursor.last_polled_at.isoformat() if cursor and cursor.last_polled_at else None,
                "cursor": cursor.cursor if cursor else None,
                "last_poll_error": cursor.last_error if cursor else None,
                "rate_limit": rate,
            })
    return rows
