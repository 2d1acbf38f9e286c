"""What operators do from the CLI: replay failures, resync one customer, poll now, read status.

Where Redis is configured the work goes to the workers; without it (single-process use) it runs
inline in this process through the same steps, so every command also works on the embedded default.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from possync.adapters.errors import RateLimitedError
from possync.models.counts import Count, read_counts
from possync.models.db import get_sessionmaker
from possync.models.near_matches import near_matches_by_tenant
from possync.models.tables import (
    EventStatus,
    JobStatus,
    PollCursor,
    PosImport,
    SyncJob,
    Tenant,
)
from possync.models.tenants import context_by_name, require_tenant
from possync.tasks import crm, destinations, jobs
from possync.tasks.clients import pos_adapter_for
from possync.tasks.intake import queue_for_tenant
from possync.tasks.onboarding import progress
from possync.tasks.poll import poll_tenant
from possync.tasks.runner import run_steps
from possync.tasks.sending import enqueue_job
from possync.tasks.step_registry import STEP_FUNCTIONS
from possync.tasks.waiting import wait_out
from possync.worker.dispatcher import queue_depth
from possync.worker.fairqueue import QueueDepth
from possync.worker.routing import POLL_QUEUE, queues_for
from possync.worker.runtime import db_session, limiter
from possync.worker.settings import get_settings

INLINE_DEADLINE_SECONDS = 120
POLL_TRIES = 5  # `possync poll` gives up on the rate limit after these, each wait at most:
POLL_LONGEST_WAIT_SECONDS = 5.0


def job_queue(session: Session, job: SyncJob) -> str:
    if job.direction == "pos_to_shopify":
        return POLL_QUEUE
    return queue_for_tenant(session.get_one(Tenant, job.tenant_id), job.direction)


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


def resync(tenant_name: str, shopify_customer_id: str) -> list[int]:
    """`possync sync`: a fresh job for one Shopify customer per destination the tenant has, run now."""
    with db_session() as session:
        tenant = require_tenant(session, tenant_name)
        job_ids = [jobs.new_job(session, tenant_id=tenant.id, direction=destination.direction,
                                subject=shopify_customer_id,
                                context={"topic": "manual", "customer_id": shopify_customer_id}).id
                   for destination in destinations.DESTINATIONS if destination.present(tenant)]
    dispatch(job_ids)
    return job_ids


def poll_now(tenant_name: str) -> dict[str, Any]:
    """`possync poll`: one POS change poll for the tenant, now, in this process; its pushes dispatched."""
    with db_session() as session:
        tenant = context_by_name(session, tenant_name, get_settings().require_secret_key())
        for attempt in range(1, POLL_TRIES + 1):  # a CLI may wait for the tenant's rate-limit budget
            try:
                result = poll_tenant(session, tenant, pos_adapter_for(tenant))
                break
            except RateLimitedError as exc:
                session.rollback()
                if attempt == POLL_TRIES:
                    raise
                wait_out(exc, longest=POLL_LONGEST_WAIT_SECONDS)
    dispatch([s.job_id for s in result.starts])
    return {"tenant": tenant_name, "pages": result.pages, "changed": result.seen, "echoes": result.echoes,
            "jobs": len(result.starts), "cursor": result.cursor}


def queue_counts() -> dict[str, QueueDepth]:
    """Every shared queue's messages, in the broker and in its fair lines; {} without Redis or when it is away."""
    if not get_settings().redis_url:
        return {}
    try:
        return {q: queue_depth(q) for q in queues_for()}
    except Exception:
        return {}


def queue_depths() -> dict[str, int]:
    return {queue: count.total for queue, count in queue_counts().items()}


def status() -> list[dict[str, Any]]:
    """`possync status`: every tenant's row (`status_rows`)."""
    with db_session() as session:
        return status_rows(session)


def status_rows(session: Session) -> list[dict[str, Any]]:
    """Per tenant: backlog, last poll and cursor, failures, rate-limit state, ambiguous matches.

    Counts come from the maintained counts (`possync.models.counts`): the cost is the number of tenants, not of
    jobs, and each kind of fact is one statement for all tenants (the console's tenants page reads this too).
    """
    rows = []
    by_tenant: dict[int, list[Count]] = {}
    for count in read_counts(session):
        by_tenant.setdefault(count.tenant_id, []).append(count)
    cursors = {c.tenant_id: c for c in session.scalars(select(PollCursor))}
    near = near_matches_by_tenant(session)
    tenants = list(session.scalars(select(Tenant).order_by(Tenant.name)))
    imports = {row.tenant_id: row for row in session.scalars(select(PosImport))}
    try:
        rates = limiter().states([f"pos:{t.name}" for t in tenants])
    except Exception:
        rates = {}
    for tenant in tenants:
        counts = by_tenant.get(tenant.id, [])

        def total(kind: str, statuses: tuple[str, ...], _counts: list[Count] = counts) -> int:
            return sum(c.n for c in _counts if c.kind == kind and c.status in statuses)

        outcomes: dict[str, int] = {}
        for c in counts:
            if c.kind == "job" and c.status == JobStatus.SUCCEEDED.value:
                outcomes[c.outcome or "None"] = outcomes.get(c.outcome or "None", 0) + c.n
        cursor = cursors.get(tenant.id)
        rows.append({
            "tenant": tenant.name,
            "pos_kind": tenant.pos_kind,
            "backlog": {"jobs": total("job", (JobStatus.PENDING.value, JobStatus.RUNNING.value)),
                        "events": total("event", (EventStatus.RECEIVED.value, EventStatus.ENQUEUED.value))},
            "succeeded": outcomes,
            "failed": total("job", (JobStatus.FAILED.value,)),
            "ambiguous_matches": sum(c.n for c in counts if c.kind == "job" and c.ambiguous),
            "near_matches": near.get(tenant.id, 0),
            "last_poll": cursor.last_polled_at.isoformat() if cursor and cursor.last_polled_at else None,
            "cursor": cursor.cursor if cursor else None,
            "last_poll_error": cursor.last_error if cursor else None,
            "rate_limit": rates.get(f"pos:{tenant.name}", {}),
            "import": progress(imports.get(tenant.id)),
            "crm": crm.status_of(session, tenant),
        })
    return rows
