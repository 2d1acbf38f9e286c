"""What grows with time and tenants (issue 20): a long history and a thousand tenants (forged hints: `bench.flood`).

`python -m bench scale` loads a year of history into a throwaway PostgreSQL database with
`generate_series` (succeeded jobs with one attempt each, half of them from a stored event, one in a
thousand failed) and runs each part of `PARTS` on it, in order. A part is a function of the shared
`Scale` context returning table rows, so more parts can be added to the list.

Sizes: `POSSYNC_BENCH_SCALE_JOBS` jobs of history (default 200,000, what CI affords; `--small`
20,000). The README's full-size rows come from `POSSYNC_BENCH_SCALE_JOBS=10000000 python -m bench scale`.
`POSSYNC_BENCH_SCALE_PARTS=load,metrics` runs some parts only (names in `PARTS`);
`POSSYNC_BENCH_SCALE_PRUNE_LIMIT_S=0` lets prune run to the end (else it stops after 600 s).
"""

from __future__ import annotations

import contextlib
import os
import statistics
import time
import uuid
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from cryptography.fernet import Fernet
from prometheus_client import CollectorRegistry, generate_latest
from sqlalchemy.orm import Session

from bench.cleanup import exit_on_signals
from bench.paced import paced
from bench.table import Result, percentile
from testing.stack import REDIS_URL, clean_redis, create_database, drop_database

DEFAULT_JOBS = 200_000
SMALL_JOBS = 20_000
TENANTS_WITH_HISTORY = 50
BEAT_TENANTS = 1_000
SCRAPE_TARGET_MS = 100.0
TICK_TARGET_MS = 50.0
LOCK_TARGET_S = 1.0
HISTORY_DAYS = 365
# Above this size the old status queries run once, cut at the limit; prune stops at its limit too.
BASELINE_FULL_JOBS = 3_000_000
BASELINE_LIMIT_S = 300.0
# Prune stops after this many seconds (`POSSYNC_BENCH_SCALE_PRUNE_LIMIT_S`; 0: runs to the end).
PRUNE_LIMIT_S = float(os.environ.get("POSSYNC_BENCH_SCALE_PRUNE_LIMIT_S", "600"))
QUIET_SECONDS = 60.0  # the receiver's quiet p99 before prune: long enough to span the machine's swings


@dataclass
class Scale:
    """What the parts share: the loaded database and how it was made."""

    url: str
    engine: sa.Engine
    key: str
    jobs: int
    say: Callable[[str], None]
    redis_prefix: str
    small: bool = False


# --- the history ------------------------------------------------------------------------------------------
TENANTS_SQL = """
INSERT INTO tenants (name, account_name, shop_domain, pos_kind, shopify_config, pos_config, settings,
                     shopify_secrets, pos_secrets, created_at, updated_at)
SELECT :prefix || g, 'bench', :prefix || g || '.myshopify.com', 'heartland', '{}', '{}',
       '{"poll_interval_seconds": 60}', 'x', 'x', now(), now()
FROM generate_series(1, :n) AS g
"""
EVENTS_SQL = """
INSERT INTO inbound_events (tenant_id, source, webhook_id, topic, headers, status, received_at, processed_at)
SELECT 1 + g % :tenants, 'shopify', 'w' || g, 'orders/create', '{}', 'processed',
       now() - make_interval(days => :days) + (2 * g) * :step, now() - make_interval(days => :days) + (2 * g) * :step
FROM generate_series(1, :n / 2) AS g
"""
JOBS_SQL = """
INSERT INTO sync_jobs (tenant_id, event_id, direction, subject, step, status, attempts, ambiguous, outcome,
                       context, created_at, updated_at, finished_at)
SELECT 1 + (g / 2) % :tenants, CASE WHEN g % 2 = 0 THEN g / 2 END,
       CASE WHEN g % 5 = 0 THEN 'pos_to_shopify' ELSE 'shopify_to_pos' END, g::text,
       CASE WHEN g % 1000 = 0 THEN 'upsert_pos_customer' ELSE 'done' END,
       CASE WHEN g % 1000 = 0 THEN 'failed' ELSE 'succeeded' END, 1, g % 97 = 0,
       CASE WHEN g % 1000 = 0 THEN NULL ELSE (ARRAY['created', 'updated', 'unchanged'])[1 + g % 3] END, '{}',
       now() - make_interval(days => :days) + g * :step, now() - make_interval(days => :days) + g * :step,
       now() - make_interval(days => :days) + g * :step
FROM generate_series(1, :n) AS g
"""
ATTEMPTS_SQL = """
INSERT INTO sync_attempts (job_id, step, outcome, latency_ms, started_at)
SELECT id, 'upsert_pos_customer', 'ok', 120.0, created_at FROM sync_jobs
"""


# The history tables: loaded without their secondary indexes and foreign keys (each would be maintained
# or checked row by row) and unlogged (no WAL per row), then made whole again in one pass each.
LOADED_TABLES = ["inbound_events", "sync_jobs", "sync_attempts"]
INDEXES_SQL = """
SELECT indexname, indexdef FROM pg_indexes i WHERE schemaname = 'public' AND tablename = ANY(:tables)
AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)
"""
FOREIGN_KEYS_SQL = """
SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint
WHERE contype = 'f' AND (conrelid::regclass::text = ANY(:tables) OR confrelid::regclass::text = ANY(:tables))
"""


@contextlib.contextmanager
def _bulk_load(conn: sa.Connection) -> Iterator[None]:
    """The loaded tables bare and unlogged while the block inserts; indexes, keys and logging back after."""
    tables = {"tables": LOADED_TABLES}
    indexes = conn.execute(sa.text(INDEXES_SQL), tables).all()
    keys = conn.execute(sa.text(FOREIGN_KEYS_SQL), tables).all()
    conn.execute(sa.text("SET maintenance_work_mem = '512MB'"))
    for table, name, _definition in keys:
        conn.execute(sa.text(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"'))
    for name, _definition in indexes:
        conn.execute(sa.text(f'DROP INDEX "{name}"'))
    for table in LOADED_TABLES:
        conn.execute(sa.text(f"ALTER TABLE {table} SET UNLOGGED"))
    yield
    for table in LOADED_TABLES:
        conn.execute(sa.text(f"ALTER TABLE {table} SET LOGGED"))
    for _name, definition in indexes:
        conn.execute(sa.text(definition))
    for table, name, definition in keys:
        conn.execute(sa.text(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}'))


def load_history(scale: Scale) -> list[Result]:
    from possync.models.counts import fold_deltas

    started = time.perf_counter()
    step = timedelta(days=HISTORY_DAYS) / scale.jobs
    with scale.engine.begin() as conn:
        conn.execute(sa.text(TENANTS_SQL), {"prefix": "hist", "n": TENANTS_WITH_HISTORY})
        params = {"tenants": TENANTS_WITH_HISTORY, "n": scale.jobs, "days": HISTORY_DAYS, "step": step}
        with _bulk_load(conn):
            conn.execute(sa.text(EVENTS_SQL), params)
            conn.execute(sa.text(JOBS_SQL), params)
            conn.execute(sa.text(ATTEMPTS_SQL))
    with Session(scale.engine) as session:
        fold_deltas(session)
        session.commit()
    _vacuum(scale.engine)
    seconds = time.perf_counter() - started
    scale.say(f"loaded {scale.jobs:,} jobs, {scale.jobs // 2:,} events, {scale.jobs:,} attempts in {seconds:.0f} s")
    return [Result(f"scale: load {scale.jobs:,} jobs of history", seconds, "s", "(informational)", True,
                   "generate_series, one transaction, the tables bare and unlogged meanwhile (indexes, foreign "
                   "keys and WAL after); the count triggers included")]


def _vacuum(engine: sa.Engine) -> None:
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("VACUUM ANALYZE"))
        conn.execute(sa.text("CHECKPOINT"))


# --- /metrics and status ----------------------------------------------------------------------------------
# What d284d65's collector and `possync status` ran at every call, for the baseline at the same size.
BEFORE_METRICS_SQL = (
    "SELECT tenant_id, direction, status, outcome, count(*) FROM sync_jobs GROUP BY 1, 2, 3, 4",
    "SELECT tenant_id, count(*) FROM sync_jobs WHERE ambiguous GROUP BY 1",
    "SELECT tenant_id, status, count(*) FROM inbound_events GROUP BY 1, 2",
)
BEFORE_STATUS_SQL = (  # per tenant
    "SELECT outcome, count(*) FROM sync_jobs WHERE tenant_id = :t AND status = 'succeeded' GROUP BY 1",
    "SELECT count(*) FROM inbound_events WHERE tenant_id = :t AND status IN ('received', 'enqueued')",
    "SELECT count(*) FROM sync_jobs WHERE tenant_id = :t AND status IN ('pending', 'running')",
    "SELECT count(*) FROM sync_jobs WHERE tenant_id = :t AND status = 'failed'",
    "SELECT count(*) FROM sync_jobs WHERE tenant_id = :t AND ambiguous",
)


def _timed(work: Callable[[], Any], runs: int) -> list[float]:
    work()  # warm
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        work()
        timings.append((time.perf_counter() - started) * 1000)
    return timings


def _scrape(url: str) -> Callable[[], bytes]:
    from possync.worker.pipeline_metrics import PipelineCollector

    registry = CollectorRegistry(auto_describe=False)
    registry.register(PipelineCollector(url))
    return lambda: generate_latest(registry)


def _before_metrics(engine: sa.Engine) -> Callable[[], None]:
    def work() -> None:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT id, name, pos_kind FROM tenants")).all()
            for statement in BEFORE_METRICS_SQL:
                conn.execute(sa.text(statement)).all()
    return work


def _before_status(engine: sa.Engine, limit: float = float("inf")) -> Callable[[], None]:
    """The old status, stopped after the tenant being read when `limit` seconds have passed."""
    def work() -> None:
        started = time.perf_counter()
        with engine.connect() as conn:
            for (tenant_id,) in conn.execute(sa.text("SELECT id FROM tenants ORDER BY name")).all():
                for statement in BEFORE_STATUS_SQL:
                    conn.execute(sa.text(statement), {"t": tenant_id}).all()
                if time.perf_counter() - started > limit:
                    raise _TimeLimitError
    return work


class _TimeLimitError(Exception):
    """A baseline or a prune cut short at its time limit."""


def _baseline(work: Callable[[], None], jobs: int) -> tuple[float, str]:
    """The old queries' time (ms) and how it was taken: median of 3 (and a warm-up) up to
    `BASELINE_FULL_JOBS` jobs; above that one cold run, cut at `BASELINE_LIMIT_S` (reported as "> X")."""
    if jobs <= BASELINE_FULL_JOBS:
        return statistics.median(_timed(work, 3)), "median of 3"
    started = time.perf_counter()
    try:
        work()
        cut = ""
    except _TimeLimitError:
        cut = f"; stopped at the {BASELINE_LIMIT_S:g} s limit, so the full run takes longer"
    return (time.perf_counter() - started) * 1000, f"one cold run{cut}"


def metrics_and_status(scale: Scale, label: str = "") -> list[Result]:
    from possync.models.counts import fold_deltas
    from possync.tasks.operations import status

    # What beat does every 15 s: the receiver's deliveries during prune left deltas, and a read sums them.
    with Session(scale.engine) as session:
        fold_deltas(session)
        session.commit()
    size = f"{scale.jobs:,} jobs{label}"
    rows = []
    runs = 10
    for name, work, note in (
        ("/metrics scrape", _scrape(scale.url), "PipelineCollector, maintained counts"),
        ("possync status", status, "possync.tasks.operations.status(), maintained counts"),
    ):
        timings = _timed(work, runs)
        rows.append(Result(f"scale: {name} at {size}", statistics.median(timings), "ms",
                           f"< {SCRAPE_TARGET_MS:g} ms", statistics.median(timings) < SCRAPE_TARGET_MS,
                           f"{note}; median of {runs}, max {max(timings):.1f} ms"))
    if not label:
        for name, work in (("/metrics scrape", _before_metrics(scale.engine)),
                           ("possync status", _before_status(scale.engine, BASELINE_LIMIT_S))):
            taken, how = _baseline(work, scale.jobs)
            rows.append(Result(f"scale: {name} at {size}, before (d284d65 queries)", taken,
                               "ms", "(baseline)", True, f"the GROUP BY / per-tenant COUNT queries; {how}"))
    for row in rows:
        scale.say(f"{row.name}: {row.shown}")
    return rows


# --- prune --------------------------------------------------------------------------------------------------
def _tenant(scale: Scale, name: str, pos: dict[str, str]) -> int:
    """A tenant applied as from its file (Shopify client secret `<name>-secret`); returns its id."""
    from possync.models.db import session_scope
    from possync.models.tenant_file import validate_tenant_data
    from possync.models.tenants import apply_tenant

    with session_scope(scale.url) as session:
        tenant, _ = apply_tenant(session, validate_tenant_data({
            "name": name, "account_name": name, "pos": pos,
            "shopify": {"shop_domain": f"{name}.myshopify.com", "access_token": "shpat_x",
                        "client_secret": f"{name}-secret"}}), scale.key)
        return tenant.id


def _receiver(scale: Scale) -> tuple[list[int], Callable[[], float], int]:
    """A receiver app with a Shopify tenant: the event ids it handed to its (recording) enqueue, a function
    timing one signed delivery (ms) and the tenant's id."""
    import json

    from possync.adapters.shopify.webhooks import webhook_headers
    from possync.entry.web.app import create_app

    tenant_id = _tenant(scale, "live", {"kind": "heartland", "subdomain": "live", "access_token": "t"})
    enqueued: list[int] = []
    # The broker is left out (prune is measured, not intake), but the enqueue is still called as the receiver
    # calls it: a delivery whose enqueue failed would take the receiver's error path and skew its p99.
    client = create_app(scale.url, scale.key, lambda event_id, _tenant_id: enqueued.append(event_id)).test_client()
    counter = iter(range(1, 10**9))  # order ids are positive (an id 0 is stored as invalid, not enqueued)

    def deliver() -> float:
        body = json.dumps({"id": next(counter), "customer": {"id": 1}}).encode()
        headers = webhook_headers(body, "orders/create", "live-secret", "live.myshopify.com",
                                  webhook_id=uuid.uuid4().hex)
        started = time.perf_counter()
        answer = client.post("/webhooks/shopify", data=body, headers=headers)
        elapsed = (time.perf_counter() - started) * 1000
        assert answer.status_code == 200, answer.data
        return elapsed

    return enqueued, deliver, tenant_id


def prune_part(scale: Scale) -> list[Result]:
    from possync.tasks.retention import PruneResult, prune

    enqueued, deliver, live = _receiver(scale)
    for _ in range(50):
        deliver()  # warm
    with paced(deliver, 50) as quiet:
        time.sleep(QUIET_SECONDS)
    before = _counts(scale, live)
    started = time.perf_counter()
    seen: list[PruneResult] = []

    def bounded(progress: PruneResult) -> None:
        seen[:] = [progress]
        if PRUNE_LIMIT_S and time.perf_counter() - started > PRUNE_LIMIT_S:
            raise _TimeLimitError  # between batches: each batch has committed

    with paced(deliver, 50) as during:
        try:
            result = prune(scale.engine, 30, progress=bounded)
            cut = ""
        except _TimeLimitError:
            result = seen[0]
            cut = f" (stopped at the {PRUNE_LIMIT_S:g} s limit, not finished)"
    seconds = time.perf_counter() - started
    delivered = 50 + len(quiet) + len(during)
    kept = _counts(scale, live) == before
    longest = result.slowest[0] if result.slowest else 0.0
    quiet_p99, during_p99 = percentile(quiet, 99), percentile(during, 99)
    scale.say(f"pruned {result.jobs:,} jobs, {result.events:,} events in {result.batches} batches, "
              f"{seconds:.0f} s{cut}; longest batch {longest:.3f} s; "
              f"receiver p99 {quiet_p99:.1f} -> {during_p99:.1f} ms")
    _vacuum(scale.engine)
    return [
        Result(f"scale: prune of {scale.jobs:,} jobs' history, longest batch transaction", longest, "s",
               f"< {LOCK_TARGET_S:g} s", longest < LOCK_TARGET_S,
               f"{result.jobs:,} jobs (+ their attempts), {result.events:,} events deleted in {result.batches} "
               f"batches of 2,000 ids, {seconds:.0f} s in all{cut}, "
               f"{(result.jobs + result.events) / seconds:,.0f} rows/s; counts unchanged: {kept}"),
        Result("scale: receiver p99 while prune runs", during_p99, "ms", f"<= 2 x quiet ({2 * quiet_p99:.1f} ms)",
               during_p99 <= 2 * max(quiet_p99, 1.0) and len(enqueued) == delivered,
               f"signed Shopify deliveries at 50/s through the app in a thread; quiet p99 {quiet_p99:.1f} ms "
               f"({len(quiet)} deliveries), during {len(during)}; {len(enqueued):,} of {delivered:,} enqueued"),
    ]


def _counts(scale: Scale, leave_out: int) -> list[tuple[Any, ...]]:
    """The counts of every tenant but `leave_out` (the one receiving deliveries meanwhile)."""
    from possync.models.counts import read_counts

    with Session(scale.engine) as session:
        return sorted((c.kind, c.tenant_id, c.direction, c.status, c.outcome, c.ambiguous, c.n)
                      for c in read_counts(session) if c.tenant_id != leave_out)


# --- beat ---------------------------------------------------------------------------------------------------
def _due_before(session: Session) -> list[int]:
    """d284d65's `due_tenants`: every tenant, then its cursor, one query each (the baseline)."""
    from possync.models.tables import PollCursor, Tenant
    from possync.tasks import jobs

    now, due = jobs.now(), []
    for tenant in session.scalars(sa.select(Tenant)):
        cursor = session.get(PollCursor, tenant.id)
        last = cursor.last_polled_at if cursor else None
        if last is None or last + timedelta(seconds=int(tenant.settings.get("poll_interval_seconds", 60))) <= now:
            due.append(tenant.id)
    return due


def _crc_phase(tenant_id: int, interval: int) -> float:
    """cd794e9's phase: a crc32 of the id, which the database cannot compute."""
    return zlib.crc32(str(tenant_id).encode()) % (interval * 1000) / 1000


def _tick_before(prefix: str) -> None:
    """cd794e9's `schedule_polls`: every tenant's interval and last poll read (datetimes built for 1,000 rows)
    and judged in Python, then a SET NX per due tenant in one pipeline, then one message."""
    from possync.models.tables import PollCursor, PosImport, Tenant
    from possync.tasks import jobs
    from possync.tasks.onboarding import NOT_IMPORTED, resume_imports
    from possync.tasks.poll import POLL_QUEUE, start_polls
    from possync.worker.runtime import db_session, redis_client

    scan = (sa.select(Tenant.id, Tenant.settings["poll_interval_seconds"].as_integer(), PollCursor.last_polled_at)
            .outerjoin(PollCursor, PollCursor.tenant_id == Tenant.id).where(Tenant.pos_kind.is_not(None)))
    with db_session() as session:
        not_imported = resume_imports(dict(session.execute(  # type: ignore[arg-type]
            sa.select(PosImport.tenant_id, PosImport.status).where(NOT_IMPORTED)).all()))
        now = jobs.now().timestamp()
        due = sorted({tenant_id for tenant_id, interval, last in session.connection().execute(scan)
                      if last is None or last.timestamp() < now - (now - _crc_phase(tenant_id, interval or 60))
                      % (interval or 60)} - not_imported)
    if not due:
        return
    pipe = redis_client().pipeline(transaction=False)
    for tenant_id in due:
        pipe.set(f"{prefix}poll-queued:{tenant_id}", "1", nx=True, ex=300)
    fresh = [tenant_id for tenant_id, marked in zip(due, pipe.execute(), strict=True) if marked]
    if fresh:
        start_polls.apply_async(args=[fresh], queue=POLL_QUEUE)


def _steady_state(session: Session, phases: dict[int, float], interval: int, tick: int, prefix: str) -> int:
    """Each tenant polled at its latest slot, but those whose slot passed within the last tick (as
    between two beat ticks); no poll marked queued. Returns how many are due."""
    from possync.models.tables import PollCursor
    from possync.tasks import jobs
    from possync.worker.runtime import redis_client

    now = jobs.now().timestamp()
    rows, due = [], 0
    for tenant_id, phase in phases.items():
        slot = now - (now - phase) % interval
        fresh = now - slot < tick
        due += fresh
        rows.append({"t": tenant_id, "at": datetime.fromtimestamp(slot - interval * fresh, UTC)})
    table = PollCursor.__table__
    session.connection().execute(table.update().where(table.c.tenant_id == sa.bindparam("t"))
                                 .values(last_polled_at=sa.bindparam("at")), rows)
    session.commit()
    redis_client().delete(*(f"{prefix}poll-queued:{tenant_id}" for tenant_id in phases))
    return due


def beat_part(scale: Scale) -> list[Result]:
    from possync.models.tables import PollCursor, Tenant
    from possync.tasks import jobs
    from possync.tasks.poll import due_tenants, phase_of, schedule_polls

    with scale.engine.begin() as conn:
        conn.execute(sa.text(TENANTS_SQL), {"prefix": "beat", "n": BEAT_TENANTS})
    interval, tick = 60, 5
    with Session(scale.engine) as session:
        ids = list(session.scalars(sa.select(Tenant.id)))
        # All polled at once (beat restarted): when is each one due next, tick by tick over the interval?
        start = jobs.now()
        for tenant_id in ids:
            session.merge(PollCursor(tenant_id=tenant_id, last_polled_at=start))
        session.commit()
        first: dict[int, int] = {}
        for n in range(1, interval // tick + 2):
            for tenant_id in due_tenants(session, start + timedelta(seconds=n * tick)):
                first.setdefault(tenant_id, n * tick)
        histogram = Counter(first.values())
        before = _timed(lambda: _due_before(session), 5)
        scan = _timed(lambda: due_tenants(session), 20)
        phases = {tenant_id: phase_of(tenant_id, interval) for tenant_id in ids}
        old_phases = {tenant_id: _crc_phase(tenant_id, interval) for tenant_id in ids}
        ticks, old_ticks, due_counts = [], [], []
        for n in range(11):  # before and after in turns, so both see the same load; the first pair warms up
            for tick_of, tick_phases, timings in ((lambda: _tick_before(scale.redis_prefix), old_phases, old_ticks),
                                                  (schedule_polls, phases, ticks)):
                due_counts.append(_steady_state(session, tick_phases, interval, tick, scale.redis_prefix))
                started = time.perf_counter()
                tick_of()
                if n:
                    timings.append((time.perf_counter() - started) * 1000)
    shape = " ".join(f"{histogram.get(s, 0)}" for s in range(tick, interval + tick + 1, tick))
    scale.say(f"beat: polls per 5 s over the interval: {shape}; tick {statistics.median(ticks):.1f} ms")
    spread = max(histogram.values()) <= 2 * len(ids) * tick / interval
    return [
        Result(f"scale: beat tick with {len(ids):,} tenants", statistics.median(ticks), "ms",
               f"< {TICK_TARGET_MS:g} ms", statistics.median(ticks) < TICK_TARGET_MS,
               f"schedule_polls() against Redis, {min(due_counts)}-{max(due_counts)} due per tick (steady state); "
               f"median of 10, max {max(ticks):.1f} ms; due scan alone {statistics.median(scan):.1f} ms (one query "
               f"returning the due ids)"),
        Result(f"scale: beat tick with {len(ids):,} tenants, before (cd794e9: rows judged in Python, a SET each)",
               statistics.median(old_ticks), "ms", "(baseline)", True,
               f"cd794e9's schedule_polls, in turns with the one above; median of 10, max {max(old_ticks):.1f} ms"),
        Result(f"scale: due scan with {len(ids):,} tenants, before (d284d65: a query per tenant)",
               statistics.median(before), "ms", "(baseline)", True, "median of 5"),
        Result(f"scale: polls of {len(ids):,} tenants all last polled at once, most in one 5 s tick",
               max(histogram.values()), "tenants", f"<= {int(2 * len(ids) * tick / interval)} (twice an even share)",
               spread, f"first poll per 5 s tick over the 60 s interval: {shape}"),
    ]


# --- the parts, in order ----------------------------------------------------------------------------------------
Part = Callable[[Scale], list[Result]]
PARTS: list[tuple[str, Part]] = [
    ("load", load_history),
    ("metrics", metrics_and_status),
    ("prune", prune_part),
    ("metrics-after-prune", lambda scale: metrics_and_status(scale, " (after prune)")),
    ("beat", beat_part),
]


def run(progress: Callable[[str], None] = print, small: bool = False) -> list[Result]:
    with exit_on_signals():  # a stopped run still drops its database
        return _run(progress, small)


def _run(progress: Callable[[str], None], small: bool) -> list[Result]:
    from possync.worker.runtime import activate
    from possync.worker.settings import load_settings

    jobs = SMALL_JOBS if small else int(os.environ.get("POSSYNC_BENCH_SCALE_JOBS", DEFAULT_JOBS))
    name, url = create_database()
    prefix = f"bench-scale-{uuid.uuid4().hex[:8]}:"
    key = Fernet.generate_key().decode()
    activate(load_settings({"POSSYNC_DATABASE_URL": url, "POSSYNC_REDIS_URL": REDIS_URL,
                            "POSSYNC_REDIS_KEY_PREFIX": prefix, "POSSYNC_SECRET_KEY": key}))
    scale = Scale(url, sa.create_engine(url), key, jobs, progress, prefix, small)
    results: list[Result] = []
    try:
        chosen = os.environ.get("POSSYNC_BENCH_SCALE_PARTS")  # e.g. "load,metrics": a subset, in PARTS order
        for label, part in PARTS:
            if chosen and label not in chosen.split(","):
                continue
            progress(f"scale: {label} ...")
            try:
                results += part(scale)
            except Exception as exc:  # one broken part never hides the others' rows
                from bench.__main__ import crashed

                results.append(crashed(f"scale {label}", exc))
        return results
    finally:
        scale.engine.dispose()
        drop_database(name)
        clean_redis(prefix)
