"""The sweeper (beat, every minute): nothing stored is ever left behind.

- events stored but never enqueued (the broker was down when they arrived) are enqueued;
- jobs pending or running past their due time plus a grace period (a worker died, a message was
  lost with a Redis restart) have their remaining steps enqueued again. Steps are idempotent, so a
  job that was merely slow is not harmed by a second message.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from models.tables import EventStatus, InboundEvent, JobStatus, SyncJob, Tenant
from tasks import jobs
from tasks.intake import enqueue_event, queue_for_tenant
from worker.celery_app import app
from worker.logging import get_logger
from worker.routing import POLL_QUEUE
from worker.runtime import db_session
from worker.settings import get_settings

log = get_logger("possync.sweeper")
EVENT_GRACE_SECONDS = 30
BATCH = 500


@dataclass
class SweepResult:
    events: int = 0
    jobs: int = 0


def stale_events(session: Session, grace_seconds: float = EVENT_GRACE_SECONDS) -> list[InboundEvent]:
    cutoff = jobs.now() - timedelta(seconds=grace_seconds)
    return list(session.scalars(
        select(InboundEvent).where(InboundEvent.status == EventStatus.RECEIVED.value, InboundEvent.received_at < cutoff)
        .order_by(InboundEvent.id).limit(BATCH)))


def stuck_jobs(session: Session, after_seconds: float) -> list[SyncJob]:
    cutoff = jobs.now() - timedelta(seconds=after_seconds)
    due = func.coalesce(SyncJob.next_run_at, SyncJob.updated_at)
    return list(session.scalars(
        select(SyncJob).where(SyncJob.status.in_([JobStatus.PENDING.value, JobStatus.RUNNING.value]),
                              SyncJob.updated_at < cutoff, or_(due < cutoff, due.is_(None)))
        .order_by(SyncJob.id).limit(BATCH)))


def sweep(after_seconds: float | None = None, event_grace: float = EVENT_GRACE_SECONDS) -> SweepResult:
    from tasks.pipeline import start_chain

    after = after_seconds if after_seconds is not None else get_settings().sweep_after_seconds
    result = SweepResult()
    with db_session() as session:
        for event in stale_events(session, event_grace):
            enqueue_event(event.id)
            event.status = EventStatus.ENQUEUED.value
            event.enqueued_at = jobs.now()
            result.events += 1
        for job in stuck_jobs(session, after):
            tenant = session.get_one(Tenant, job.tenant_id)
            queue = POLL_QUEUE if job.direction == "pos_to_shopify" else queue_for_tenant(tenant)
            job.status = JobStatus.PENDING.value
            job.next_run_at = None
            job.updated_at = jobs.now()
            start_chain(job, queue)
            result.jobs += 1
    if result.events or result.jobs:
        log.info("swept", events=result.events, jobs=result.jobs)
    return result


@app.task(name="possync.sweeper.sweep")
def sweep_task() -> None:
    sweep()
