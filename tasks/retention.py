"""Retention: settled history older than `POSSYNC_RETENTION_DAYS` is deleted (`possync prune`, beat).

Deleted: succeeded jobs (with their attempts) and processed or ignored events that no remaining job
points to. Kept whatever their age: failed jobs (until replayed or superseded), pending and running
work, events still to process and events stored as failed. Each batch is one short transaction over a
primary-key range, so no statement locks many rows or runs long while the receiver and workers write.
The maintained counts (`possync.models.counts`) are left as they are: totals include what was pruned.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Connection, Engine, bindparam, delete, exists, func, select, text

from possync.models.counts import fold_deltas
from possync.models.db import get_engine
from possync.models.tables import EventStatus, InboundEvent, JobStatus, SyncJob
from possync.tasks import jobs
from possync.worker.celery_app import app
from possync.worker.logging import get_logger
from possync.worker.runtime import db_session, redis_client
from possync.worker.settings import get_settings

log = get_logger("possync.retention")

# Primary keys per batch: a batch of succeeded jobs also deletes their attempts (a few per job).
BATCH_IDS = 2000
# After each batch, rest this many times as long as it took: prune gives way to live work (it has all hour).
REST_RATIO = 1.0

_JOBS = SyncJob.__table__
_EVENTS = InboundEvent.__table__
SETTLED_EVENTS = (EventStatus.PROCESSED.value, EventStatus.IGNORED.value)


@dataclass
class PruneResult:
    jobs: int = 0
    events: int = 0
    batches: int = 0
    # Seconds each batch's transaction took, longest first: what a lock held by prune can last.
    slowest: list[float] = field(default_factory=list)

    def record(self, seconds: float) -> None:
        self.batches += 1
        self.slowest = sorted([*self.slowest, seconds], reverse=True)[:5]


def cutoff_for(days: int, now: datetime | None = None) -> datetime:
    return (now or jobs.now()) - timedelta(days=days)


_DELETE_JOBS = delete(_JOBS).where(
    _JOBS.c.id >= bindparam("lo"), _JOBS.c.id < bindparam("hi"),
    _JOBS.c.status == JobStatus.SUCCEEDED.value, _JOBS.c.updated_at < bindparam("cutoff"))
_DELETE_EVENTS = delete(_EVENTS).where(
    _EVENTS.c.id >= bindparam("lo"), _EVENTS.c.id < bindparam("hi"),
    _EVENTS.c.status.in_(SETTLED_EVENTS), _EVENTS.c.received_at < bindparam("cutoff"),
    ~exists().where(_JOBS.c.event_id == _EVENTS.c.id))


def prune(engine: Engine, older_than_days: int, *, batch: int = BATCH_IDS, now: datetime | None = None,
          rest_ratio: float = REST_RATIO, progress: Callable[[PruneResult], None] | None = None) -> PruneResult:
    """Delete settled history older than `older_than_days`; jobs first, so their events become free."""
    cutoff = cutoff_for(older_than_days, now)
    result = PruneResult()
    for table, statement, born, attribute in ((_JOBS, _DELETE_JOBS, _JOBS.c.created_at, "jobs"),
                                              (_EVENTS, _DELETE_EVENTS, _EVENTS.c.received_at, "events")):
        for deleted, seconds in _walk(engine, table, statement, born, cutoff, batch):
            setattr(result, attribute, getattr(result, attribute) + deleted)
            result.record(seconds)
            if progress:
                progress(result)
            time.sleep(seconds * rest_ratio)
    return result


def _walk(engine: Engine, table, statement, born, cutoff: datetime, batch: int):
    """(rows deleted, seconds) per batch, over id ranges from the oldest row to the first one born after `cutoff`.

    Ids grow with the row's creation time, so no older row sits past that one. Empty ranges are skipped
    by asking the primary key for the next id.
    """
    with engine.connect() as conn:
        lo = conn.scalar(select(func.min(table.c.id)))
    while lo is not None:
        hi = lo + batch
        started = time.perf_counter()
        with engine.begin() as conn:
            _keep_counts(conn)
            deleted = conn.execute(statement, {"lo": lo, "hi": hi, "cutoff": cutoff}).rowcount
        yield deleted, time.perf_counter() - started
        with engine.connect() as conn:
            following = conn.execute(select(table.c.id, born).where(table.c.id >= hi)
                                     .order_by(table.c.id).limit(1)).first()
        if following is None or _aware(following[1]) >= cutoff:
            return
        lo = following[0]


def _keep_counts(conn: Connection) -> None:
    """What this transaction deletes stays counted (the triggers of migration 0010 skip it)."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT set_config('possync.keep_counts', 'on', true)"))


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=jobs.now().tzinfo)


def prune_configured(progress: Callable[[PruneResult], None] | None = None,
                     older_than_days: int | None = None) -> PruneResult:
    """Prune with this process's settings (`POSSYNC_RETENTION_DAYS` unless told)."""
    settings = get_settings()
    days = settings.retention_days if older_than_days is None else older_than_days
    return prune(get_engine(settings.database_url), days, progress=progress)


@app.task(name="possync.retention.prune")
def prune_history() -> None:
    """Beat, hourly: one prune at a time (a first prune of a long history outlasts the hour)."""
    lock = redis_client().lock(f"{get_settings().redis_key_prefix}prune-lock", timeout=6 * 3600)
    if not lock.acquire(blocking=False):
        return
    try:
        result = prune_configured()
        log.info("pruned", jobs=result.jobs, events=result.events, batches=result.batches)
    finally:
        with contextlib.suppress(Exception):  # an expired lock is fine
            lock.release()


@app.task(name="possync.retention.fold_counts")
def fold_counts() -> None:
    """Beat, every few seconds: the counts' deltas added in, so a read stays the size of the key space."""
    with db_session() as session:
        fold_deltas(session)
