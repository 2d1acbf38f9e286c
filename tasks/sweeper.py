"""The sweeper (beat, every minute): nothing stored is ever left behind.

- events stored but never enqueued (the broker was down when they arrived) are enqueued;
- events enqueued but still not processed past the grace period (their message was lost with a Redis
  restart, or the intake task died on a database outage) are enqueued again; intake is idempotent;
- jobs pending or running past their due time plus a grace period (a worker died, a message was
  lost with a Redis restart) have their remaining steps enqueued again. Steps are idempotent, so a
  job that was merely slow is not harmed by a second message.

A pending job (or an enqueued event) whose queue still holds messages is most likely waiting in that
backlog, not lost: it is left alone until its queue is empty, or for at most the broker's visibility
timeout. Without this, every sweep during a backlog longer than the grace period re-enqueued every
waiting job, and the duplicates grew the backlog they were waiting in (tests/resilience).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import redis
from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from possync.models.tables import EventStatus, InboundEvent, JobStatus, SyncJob, Tenant
from possync.tasks import jobs
from possync.tasks.intake import enqueue_event, queue_for_tenant
from possync.tasks.sending import enqueue_job
from possync.worker.celery_app import VISIBILITY_TIMEOUT_SECONDS, app
from possync.worker.dispatcher import queue_length
from possync.worker.logging import get_logger
from possync.worker.routing import INTAKE_QUEUE, POLL_QUEUE
from possync.worker.runtime import db_session
from possync.worker.settings import get_settings

log = get_logger("possync.sweeper")
EVENT_GRACE_SECONDS = 30
BATCH = 500


@dataclass
class SweepResult:
    events: int = 0
    jobs: int = 0


def stale_events(session: Session, grace_seconds: float = EVENT_GRACE_SECONDS,
                 enqueued_after: float | None = None) -> list[InboundEvent]:
    """Events never enqueued (older than `grace_seconds`) and, when `enqueued_after` is given, events
    enqueued longer ago than that and still not processed (tests/resilience/test_broker_restart.py)."""
    now = jobs.now()
    never_enqueued = and_(InboundEvent.status == EventStatus.RECEIVED.value,
                          InboundEvent.received_at < now - timedelta(seconds=grace_seconds))
    conditions = [never_enqueued]
    if enqueued_after is not None:
        enqueued_at = func.coalesce(InboundEvent.enqueued_at, InboundEvent.received_at)
        conditions.append(and_(InboundEvent.status == EventStatus.ENQUEUED.value,
                               enqueued_at < now - timedelta(seconds=enqueued_after)))
    return list(session.scalars(select(InboundEvent).where(or_(*conditions)).order_by(InboundEvent.id).limit(BATCH)))


def stuck_jobs(session: Session, after_seconds: float) -> list[SyncJob]:
    cutoff = jobs.now() - timedelta(seconds=after_seconds)
    due = func.coalesce(SyncJob.next_run_at, SyncJob.updated_at)
    return list(session.scalars(
        select(SyncJob).where(SyncJob.status.in_([JobStatus.PENDING.value, JobStatus.RUNNING.value]),
                              SyncJob.updated_at < cutoff, or_(due < cutoff, due.is_(None)))
        .order_by(SyncJob.id).limit(BATCH)))


class QueueBacklog:
    """Which queues hold messages right now (one LLEN per queue per sweep)."""

    def __init__(self) -> None:
        self._lengths: dict[str, int] = {}

    def length(self, queue: str) -> int:
        if queue not in self._lengths:
            try:  # the broker's list and the queue's fair lines (where waits and backlogs are held)
                self._lengths[queue] = queue_length(queue)
            except redis.RedisError:
                self._lengths[queue] = 0  # unknown: sweep, a duplicate message is harmless
        return self._lengths[queue]

    def may_hold(self, queue: str, since: datetime | None) -> bool:
        """True when a message sent at `since` may still be waiting in `queue`."""
        patience = jobs.now() - timedelta(seconds=VISIBILITY_TIMEOUT_SECONDS)
        return self.length(queue) > 0 and (since is None or since > patience)


def sweep(after_seconds: float | None = None, event_grace: float = EVENT_GRACE_SECONDS) -> SweepResult:
    after = after_seconds if after_seconds is not None else get_settings().sweep_after_seconds
    result = SweepResult()
    backlog = QueueBacklog()
    with db_session() as session:
        for event in stale_events(session, event_grace, enqueued_after=after):
            if event.status == EventStatus.ENQUEUED.value and backlog.may_hold(INTAKE_QUEUE, event.enqueued_at):
                continue
            enqueue_event(event.id, event.tenant_id)
            event.status = EventStatus.ENQUEUED.value
            event.enqueued_at = jobs.now()
            result.events += 1
        for job in stuck_jobs(session, after):
            tenant = session.get_one(Tenant, job.tenant_id)
            queue = POLL_QUEUE if job.direction == "pos_to_shopify" else queue_for_tenant(tenant, job.direction)
            if job.status == JobStatus.PENDING.value and backlog.may_hold(queue, job.updated_at):
                continue
            job.status = JobStatus.PENDING.value
            job.next_run_at = None
            job.updated_at = jobs.now()
            enqueue_job(job, queue)
            result.jobs += 1
    if result.events or result.jobs:
        log.info("swept", events=result.events, jobs=result.jobs)
    return result


@app.task(name="possync.sweeper.sweep")
def sweep_task() -> None:
    sweep()
