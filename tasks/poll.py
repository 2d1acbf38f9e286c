"""POS -> Shopify: the change poll per tenant (SPEC rule 2).

Each page of changed POS customers updates the POS index, the links' POS status, and creates a
`push_to_shopify` job per customer whose content is not possync's own write (rule 5). The page's
work and the new cursor commit in one transaction: the cursor never runs ahead of the work.
"""

from __future__ import annotations

import contextlib
import functools
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, bindparam, func, or_, select
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.orm import Session

from possync.adapters.base import PosAdapter
from possync.adapters.errors import AdapterError, RateLimitedError
from possync.models import links, pos_index
from possync.models.db import get_engine
from possync.models.sql_time import epoch_ms
from possync.models.tables import PollCursor, PosImport, SyncJob, Tenant
from possync.models.tenants import DEFAULT_POLL_INTERVAL_SECONDS, TenantContext, load_context
from possync.tasks import jobs, readings, serial
from possync.tasks.clients import held_turn as with_held_turn
from possync.tasks.clients import pos_adapter_for
from possync.tasks.intake import JobStart
from possync.tasks.onboarding import NOT_IMPORTED, resume_imports
from possync.tasks.rules import echo
from possync.tasks.runner import WaitError
from possync.tasks.sending import enqueue_job
from possync.worker.celery_app import app
from possync.worker.logging import bind_job, get_logger
from possync.worker.routing import POLL_QUEUE
from possync.worker.runtime import db_session, redis_client
from possync.worker.settings import get_settings

log = get_logger("possync.poll")
MAX_PAGES_PER_RUN = 20


@dataclass
class PollResult:
    pages: int = 0
    seen: int = 0
    echoes: int = 0
    starts: list[JobStart] = field(default_factory=list)
    cursor: str | None = None


class PollError(Exception):
    """A poll that stopped early; `reason` is one line, already stored as the cursor row's `last_error`;
    `done` is what the pages committed before the failure did (their jobs still want dispatching)."""

    def __init__(self, reason: str, cause: Exception, done: PollResult | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.cause = cause  # the adapter's or the database's own error
        self.done = done if done is not None else PollResult()


def failure_reason(exc: BaseException) -> str:
    """One line naming what failed, for an operator: never SQL, its parameters, or a traceback."""
    if isinstance(exc, DBAPIError):
        lines = str(exc.orig).strip().splitlines()  # the driver's first line; details (and data) follow
        return f"database error: {lines[0] if lines else type(exc.orig).__name__}"
    if isinstance(exc, SQLAlchemyError):
        return f"database error: {type(exc).__name__}"
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def poll_tenant(session: Session, tenant: TenantContext, adapter: PosAdapter,
                max_pages: int = MAX_PAGES_PER_RUN) -> PollResult:
    """Poll up to `max_pages` pages. Pages done stay done; a failure is stored on the cursor row and
    raised as `PollError` (a rate limit is waiting, not failing: it propagates as it is)."""
    result = PollResult()
    with recorded_failures(session, tenant.id, result):
        _poll_pages(session, tenant, adapter, max_pages, result)
    return result


@contextlib.contextmanager
def recorded_failures(session: Session, tenant_id: int, done: PollResult | None = None) -> Iterator[None]:
    """An adapter or database failure inside becomes the cursor row's `last_error` and a `PollError`."""
    try:
        yield
    except RateLimitedError:
        raise
    except (AdapterError, SQLAlchemyError) as exc:
        reason = failure_reason(exc)
        session.rollback()
        _record_failure(session, tenant_id, reason)
        raise PollError(reason, exc, done) from exc


def _record_failure(session: Session, tenant_id: int, reason: str) -> None:
    try:
        row = session.get(PollCursor, tenant_id) or PollCursor(tenant_id=tenant_id)
        row.last_error = reason[:2000]
        row.last_polled_at = jobs.now()  # the next scheduled poll waits its interval, as after a success
        session.merge(row)
        session.commit()
    except SQLAlchemyError:
        session.rollback()  # the database is what failed: the reason still reaches the caller


def _poll_pages(session: Session, tenant: TenantContext, adapter: PosAdapter, max_pages: int,
                result: PollResult) -> None:
    row = session.get(PollCursor, tenant.id)
    if row is None:
        row = PollCursor(tenant_id=tenant.id)
        session.add(row)
    result.cursor = row.cursor
    region = tenant.settings.default_phone_region
    started = time.time()
    for _ in range(max_pages):
        before = row.cursor
        page = adapter.changes_since(row.cursor)
        pos_index.index_customers(session, tenant.id, page.customers, region,
                                  whole=adapter.change_rows_are_readings)
        readings.forget_changed(tenant.id, page.customers)
        new_jobs = []
        echoes = 0
        for pos in page.customers:
            link = links.get_link_by_pos(session, tenant.id, pos.pos_id)
            if link is not None:
                link.pos_status = pos.status.value
                if echo.is_pos_echo(link, pos.customer):
                    echoes += 1
                    continue
            if tenant.settings.sync_pos_to_shopify:
                new_jobs.append(jobs.new_job(session, tenant_id=tenant.id, direction="pos_to_shopify",
                                             subject=pos.pos_id,
                                             context={"pos_customer": serial.pos_customer_to_json(pos)}))
        row.cursor = page.next_cursor or row.cursor
        row.last_polled_at = jobs.now()
        row.last_error = None
        session.commit()
        result.pages += 1  # counted once committed: a failed page leaves `result` as the last good one
        result.seen += len(page.customers)
        result.echoes += echoes
        result.starts += [JobStart(j.id, POLL_QUEUE) for j in new_jobs]
        result.cursor = row.cursor
        if not page.has_more:
            _mark_index_current(tenant.id, started)
            break
        if not page.customers and page.next_cursor == before:
            break  # changes too fresh to pass yet (a bulk import under way): the next poll reads them


def _index_current_key(tenant_id: int) -> str:
    return f"{get_settings().redis_key_prefix}index-current:{tenant_id}"


def _mark_index_current(tenant_id: int, since: float) -> None:
    """Every POS change made before `since` (epoch s) is in the index: a poll that began then has read to the end."""
    redis_client().set(_index_current_key(tenant_id), repr(since), ex=86400)


def index_current_since(tenant_id: int) -> float:
    """When the last poll that read to the end began (0: not known), shared by every worker through Redis."""
    value = redis_client().get(_index_current_key(tenant_id))
    return float(value) if value else 0.0


# Pages a catch-up before a create may read: one when nothing changed (rule 36); a backlog larger than
# this is the beat poll's to read.
CATCH_UP_PAGES = 3
# Catch-ups of one tenant begin at least this far apart: the jobs that need one meanwhile wait for the
# next and share it, so a burst of jobs costs a catch-up per window instead of one per job.
CATCH_UP_WINDOW_SECONDS = 1.0
CATCH_UP_TOOK_GUESS_SECONDS = 0.2  # how long a catch-up takes, until one has been timed
WAIT_JITTER_SECONDS = 0.05


class CatchUpWaitError(WaitError):
    """The POS index is not yet current for this job: the next catch-up (or the running one) will make it so."""


def poll_lock(tenant_id: int) -> Any:
    """The per-tenant Redis lock one poll (beat's, `possync poll` or a catch-up) holds at a time."""
    return redis_client().lock(f"{get_settings().redis_key_prefix}poll-lock:{tenant_id}", timeout=300)


def _round_key(tenant_id: int) -> str:
    return f"{get_settings().redis_key_prefix}catch-up:{tenant_id}"


def _last_round(tenant_id: int) -> tuple[float, float]:
    """When the tenant's latest catch-up began (epoch s, 0: none) and how long the last finished one took."""
    started, took = redis_client().hmget(_round_key(tenant_id), "started", "took")
    return (float(started) if started else 0.0), (float(took) if took else CATCH_UP_TOOK_GUESS_SECONDS)


def _note_round(tenant_id: int, **values: str) -> None:
    key = _round_key(tenant_id)
    pipe = redis_client().pipeline()
    for name, value in values.items():
        pipe.hset(key, name, value)
    pipe.expire(key, 86400)
    pipe.execute()


def catch_up(session: Session, tenant: TenantContext, adapter: PosAdapter, since: float) -> None:
    """Make the POS index hold every POS change made before `since` (epoch s; rules 12, 36).

    Nothing to do when a poll that began after `since` has read to the end. Otherwise the change poll
    runs now, inline: the same work as beat's (index, link statuses, POS -> Shopify jobs, the cursor),
    so the two never read a change twice. Catch-ups are coalesced: one begins at most every
    `CATCH_UP_WINDOW_SECONDS`, and one serves every job whose reading came before it began. A job that
    must wait (a poll is running, or the window is not over) gets `CatchUpWaitError` with a countdown
    to when that poll should be done or the next may begin: one wake-up, not a retry every few tenths
    of a second. A backlog longer than `CATCH_UP_PAGES` waits the same way for the next catch-up.
    """
    if index_current_since(tenant.id) >= since:
        return
    now = time.time()
    started, took = _last_round(tenant.id)
    lock = poll_lock(tenant.id)
    if lock.locked():  # the running poll serves this job if it began after `since`; else the next one does
        raise CatchUpWaitError("a change poll of this tenant is running; waiting for the POS index",
                               _jittered(max(started + took - now, took / 2)))
    if now < started + CATCH_UP_WINDOW_SECONDS:  # shared with the jobs waiting for the next catch-up
        raise CatchUpWaitError("waiting for the next catch-up of the POS index",
                               _jittered(started + CATCH_UP_WINDOW_SECONDS - now))
    if not lock.acquire(blocking=False):
        raise CatchUpWaitError("a change poll of this tenant is running; waiting for the POS index", _jittered(took))
    began = time.time()
    _note_round(tenant.id, started=repr(began))
    try:
        result = poll_tenant(session, tenant, adapter, max_pages=CATCH_UP_PAGES)
    except PollError as exc:  # stored on the cursor row; the job's own error table judges the cause
        enqueue_starts(session, exc.done.starts)
        raise exc.cause from None
    finally:
        with contextlib.suppress(Exception):  # an expired lock is fine
            lock.release()
    _note_round(tenant.id, took=repr(time.time() - began))
    enqueue_starts(session, result.starts)
    if index_current_since(tenant.id) < since:
        raise CatchUpWaitError("the POS index is more than a catch-up behind the POS; waiting for the next",
                               _jittered(CATCH_UP_WINDOW_SECONDS))


def _jittered(seconds: float) -> float:
    return max(seconds, 0.0) + random.uniform(0, WAIT_JITTER_SECONDS)


def enqueue_starts(session: Session, starts: list[JobStart]) -> None:
    """Send the POS -> Shopify jobs a poll made (their rows are committed with its pages)."""
    for start in starts:
        enqueue_job(session.get_one(SyncJob, start.job_id), start.queue)


# Phases: a multiplicative hash of the id (Knuth's), which PostgreSQL and SQLite compute as Python does.
PHASE_MULTIPLIER = 2654435761


def phase_of(tenant_id: int, interval: int) -> float:
    """Where in each interval this tenant's poll falls (seconds): a fixed hash of its id, so a thousand
    tenants on one interval start their polls spread over it rather than in one tick. `due_tenants`
    computes the same in SQL."""
    return tenant_id * PHASE_MULTIPLIER % (interval * 1000) / 1000


# A tenant is due when its last poll was before its latest slot (its phase in the current interval):
# one poll per interval, each at its slot; a tenant never polled is due at once. Computed in the
# database in integer milliseconds, so one query returns only the due tenants' ids.
_NOW_MS = bindparam("now_ms", type_=BigInteger())
_INTERVAL_MS = func.coalesce(func.nullif(Tenant.settings["poll_interval_seconds"].as_integer(), 0),
                             DEFAULT_POLL_INTERVAL_SECONDS) * 1000
_SLOT_MS = _NOW_MS - (_NOW_MS - Tenant.id * PHASE_MULTIPLIER % _INTERVAL_MS) % _INTERVAL_MS
_DUE = or_(PollCursor.last_polled_at.is_(None), epoch_ms(PollCursor.last_polled_at) < _SLOT_MS)
_WITH_CURSOR = (select(Tenant.id).outerjoin(PollCursor, PollCursor.tenant_id == Tenant.id)
                .where(Tenant.pos_kind.is_not(None)))  # no POS, nothing to poll


def due_tenants(session: Session, now: datetime | None = None) -> list[int]:
    """The tenants whose poll is due, read in one query."""
    return list(session.connection().execute(_WITH_CURSOR.where(_DUE), {"now_ms": _ms(now)}).scalars())


def _ms(now: datetime | None) -> int:
    return int((now or jobs.now()).timestamp() * 1000)


# Beat's one query: (tenant, due, import status) of each tenant whose poll is due or whose import is not
# complete.
_POLLED = Tenant.pos_kind.is_not(None) & _DUE
_TICK_SCAN = (select(Tenant.id, _POLLED.label("due"), PosImport.status)
              .outerjoin(PollCursor, PollCursor.tenant_id == Tenant.id)
              .outerjoin(PosImport, (PosImport.tenant_id == Tenant.id) & NOT_IMPORTED)
              .where(_POLLED | PosImport.status.is_not(None)))


@app.task(name="possync.poll.schedule_polls")
def schedule_polls() -> None:
    """Beat, every few seconds: resume imports, start the polls that are due (at most one queued per tenant)."""
    settings = get_settings()
    # One statement outside a transaction: one round trip to the database, whatever the number of tenants.
    with get_engine(settings.database_url).connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        rows = conn.execute(_TICK_SCAN, {"now_ms": _ms(None)}).all()
    not_imported = resume_imports({tenant_id: status for tenant_id, _due, status in rows if status is not None})
    due = sorted(tenant_id for tenant_id, is_due, _status in rows if is_due and tenant_id not in not_imported)
    if not due:
        return  # and no poll until its import is complete (SPEC rule 34)
    # One script call for the markers and one message, however many are due: beat is a single process, so
    # the message per tenant is sent by a worker (`start_polls`).
    client = redis_client()
    marked = _mark_queued(client)(keys=[f"{settings.redis_key_prefix}poll-queued:{tenant_id}" for tenant_id in due],
                                  args=[300], client=client)
    fresh = [due[index - 1] for index in marked]
    if fresh:
        start_polls.apply_async(args=[fresh], queue=POLL_QUEUE)


# Each key set (1, with a TTL of ARGV[1] s) unless present; returns the 1-based positions of those set.
# One call instead of a command per tenant: at a thousand tenants the client's own work was most of it.
_MARK_QUEUED = """
local fresh = {}
for i, key in ipairs(KEYS) do
  if redis.call('SET', key, '1', 'NX', 'EX', ARGV[1]) then fresh[#fresh + 1] = i end
end
return fresh
"""


@functools.lru_cache(maxsize=8)
def _mark_queued(client: Any) -> Any:
    return client.register_script(_MARK_QUEUED)


@app.task(name="possync.poll.start_polls")
def start_polls(tenant_ids: list[int]) -> None:
    """The polls beat found due, one message each, sent over one broker connection."""
    with app.producer_or_acquire() as producer:
        for tenant_id in tenant_ids:
            poll_pos_changes.apply_async(args=[tenant_id], queue=POLL_QUEUE, producer=producer)


@app.task(bind=True, name="possync.poll.poll_pos_changes", max_retries=None)
def poll_pos_changes(self, tenant_id: int, held_turn: float | None = None) -> None:

    settings = get_settings()
    redis_client().delete(f"{settings.redis_key_prefix}poll-queued:{tenant_id}")
    lock = poll_lock(tenant_id)
    if not lock.acquire(blocking=False):
        return  # another poll of this tenant is running
    try:
        with db_session() as session:
            tenant = load_context(session.get_one(Tenant, tenant_id), settings.require_secret_key())
            bind_job(tenant=tenant.name, task="poll")
            try:
                with recorded_failures(session, tenant_id):
                    adapter = pos_adapter_for(tenant)
                with with_held_turn(held_turn):
                    result = poll_tenant(session, tenant, adapter)
            except RateLimitedError as exc:
                # The poll keeps its rate-limit turn, if it was given one.
                raise self.retry(countdown=min(exc.countdown(jitter=0.5), 900),
                                 kwargs={"held_turn": exc.turn_at}) from None
            except PollError as exc:
                log.warning("poll failed", error=exc.reason)  # stored on the cursor; the next beat tries again
                result = exc.done
        with db_session() as session:
            enqueue_starts(session, result.starts)
        log.info("polled", pages=result.pages, seen=result.seen, echoes=result.echoes, jobs=len(result.starts))
    finally:
        with contextlib.suppress(Exception):  # an expired lock is fine
            lock.release()
