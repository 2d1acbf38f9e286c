"""What grows with time and tenants (issue 20): a long history, a thousand tenants, forged hints.

`python -m bench scale` loads a year of history into a throwaway PostgreSQL database with
`generate_series` (succeeded jobs with one attempt each, half of them from a stored event, one in a
thousand failed) and runs each part of `PARTS` on it, in order. A part is a function of the shared
`Scale` context returning table rows, so more parts can be added to the list.

Sizes: `POSSYNC_BENCH_SCALE_JOBS` jobs of history (default 200,000, what CI affords; `--small`
20,000). The README's full-size rows come from `POSSYNC_BENCH_SCALE_JOBS=10000000 python -m bench scale`.
`POSSYNC_BENCH_SCALE_PARTS=load,metrics` runs some parts only (names in `PARTS`).
"""

from __future__ import annotations

import contextlib
import os
import statistics
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from cryptography.fernet import Fernet
from prometheus_client import CollectorRegistry, generate_latest
from sqlalchemy.orm import Session

from bench.table import Result, percentile
from testing.stack import REDIS_URL, clean_redis, create_database, drop_database

DEFAULT_JOBS = 200_000
SMALL_JOBS = 20_000
TENANTS_WITH_HISTORY = 50
BEAT_TENANTS = 1_000
FLOOD_POSTS = 10_000
SCRAPE_TARGET_MS = 100.0
TICK_TARGET_MS = 50.0
LOCK_TARGET_S = 1.0
HISTORY_DAYS = 365


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


def load_history(scale: Scale) -> list[Result]:
    from possync.models.counts import fold_deltas

    started = time.perf_counter()
    step = timedelta(days=HISTORY_DAYS) / scale.jobs
    with scale.engine.begin() as conn:
        conn.execute(sa.text(TENANTS_SQL), {"prefix": "hist", "n": TENANTS_WITH_HISTORY})
        params = {"tenants": TENANTS_WITH_HISTORY, "n": scale.jobs, "days": HISTORY_DAYS, "step": step}
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
                   "generate_series, one transaction; the count triggers included")]


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


def _before_status(engine: sa.Engine) -> Callable[[], None]:
    def work() -> None:
        with engine.connect() as conn:
            for (tenant_id,) in conn.execute(sa.text("SELECT id FROM tenants ORDER BY name")).all():
                for statement in BEFORE_STATUS_SQL:
                    conn.execute(sa.text(statement), {"t": tenant_id}).all()
    return work


def metrics_and_status(scale: Scale, label: str = "") -> list[Result]:
    from possync.tasks.operations import status

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
                           ("possync status", _before_status(scale.engine))):
            timings = _timed(work, 3)
            rows.append(Result(f"scale: {name} at {size}, before (d284d65 queries)", statistics.median(timings),
                               "ms", "(baseline)", True, "the GROUP BY / per-tenant COUNT queries; median of 3"))
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


def _receiver(scale: Scale) -> tuple[Any, Callable[[], float], int]:
    """A receiver app with a Shopify tenant: the app's client, a function timing one signed delivery (ms) and
    the tenant's id."""
    import json

    from possync.adapters.shopify.webhooks import webhook_headers
    from possync.entry.web.app import create_app

    tenant_id = _tenant(scale, "live", {"kind": "heartland", "subdomain": "live", "access_token": "t"})
    client = create_app(scale.url, scale.key, lambda _id: None).test_client()
    counter = iter(range(10**9))

    def deliver() -> float:
        body = json.dumps({"id": next(counter), "customer": {"id": 1}}).encode()
        headers = webhook_headers(body, "orders/create", "live-secret", "live.myshopify.com",
                                  webhook_id=uuid.uuid4().hex)
        started = time.perf_counter()
        answer = client.post("/webhooks/shopify", data=body, headers=headers)
        elapsed = (time.perf_counter() - started) * 1000
        assert answer.status_code == 200, answer.data
        return elapsed

    return client, deliver, tenant_id


@contextlib.contextmanager
def _paced(deliver: Callable[[], float], per_second: float) -> Iterator[list[float]]:
    """Deliveries at a steady pace in a thread while the block runs; yields their latencies (ms)."""
    timings: list[float] = []
    stop = threading.Event()

    def loop() -> None:
        while not stop.is_set():
            timings.append(deliver())
            stop.wait(1 / per_second)

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield timings
    finally:
        stop.set()
        thread.join()


def prune_part(scale: Scale) -> list[Result]:
    from possync.tasks.retention import prune

    _, deliver, live = _receiver(scale)
    for _ in range(50):
        deliver()  # warm
    with _paced(deliver, 50) as quiet:
        time.sleep(10)
    before = _counts(scale, live)
    started = time.perf_counter()
    with _paced(deliver, 50) as during:
        result = prune(scale.engine, 30)
    seconds = time.perf_counter() - started
    kept = _counts(scale, live) == before
    longest = result.slowest[0] if result.slowest else 0.0
    quiet_p99, during_p99 = percentile(quiet, 99), percentile(during, 99)
    scale.say(f"pruned {result.jobs:,} jobs, {result.events:,} events in {result.batches} batches, {seconds:.0f} s; "
              f"longest batch {longest:.3f} s; receiver p99 {quiet_p99:.1f} -> {during_p99:.1f} ms")
    _vacuum(scale.engine)
    return [
        Result(f"scale: prune of {scale.jobs:,} jobs' history, longest batch transaction", longest, "s",
               f"< {LOCK_TARGET_S:g} s", longest < LOCK_TARGET_S,
               f"{result.jobs:,} jobs (+ their attempts), {result.events:,} events deleted in {result.batches} "
               f"batches of 2,000 ids, {seconds:.0f} s in all; counts unchanged: {kept}"),
        Result("scale: receiver p99 while prune runs", during_p99, "ms", f"<= 2 x quiet ({2 * quiet_p99:.1f} ms)",
               during_p99 <= 2 * max(quiet_p99, 1.0),
               f"signed Shopify deliveries at 50/s through the app in a thread; quiet p99 {quiet_p99:.1f} ms "
               f"({len(quiet)} deliveries), during {len(during)}"),
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
        ticks, due_counts = [], []
        for _ in range(10):
            due_counts.append(_steady_state(session, phases, interval, tick, scale.redis_prefix))
            started = time.perf_counter()
            schedule_polls()
            ticks.append((time.perf_counter() - started) * 1000)
    shape = " ".join(f"{histogram.get(s, 0)}" for s in range(tick, interval + tick + 1, tick))
    scale.say(f"beat: polls per 5 s over the interval: {shape}; tick {statistics.median(ticks):.1f} ms")
    spread = max(histogram.values()) <= 2 * len(ids) * tick / interval
    return [
        Result(f"scale: beat tick with {len(ids):,} tenants", statistics.median(ticks), "ms",
               f"< {TICK_TARGET_MS:g} ms", statistics.median(ticks) < TICK_TARGET_MS,
               f"schedule_polls() against Redis, {min(due_counts)}-{max(due_counts)} due per tick (steady state); "
               f"median of 10, max {max(ticks):.1f} ms; due scan alone {statistics.median(scan):.1f} ms (one query)"),
        Result(f"scale: due scan with {len(ids):,} tenants, before (d284d65: a query per tenant)",
               statistics.median(before), "ms", "(baseline)", True, "median of 5"),
        Result(f"scale: polls of {len(ids):,} tenants all last polled at once, most in one 5 s tick",
               max(histogram.values()), "tenants", f"<= {int(2 * len(ids) * tick / interval)} (twice an even share)",
               spread, f"first poll per 5 s tick over the 60 s interval: {shape}"),
    ]


# --- forged X-Series hints ------------------------------------------------------------------------------------
def flood_part(scale: Scale) -> list[Result]:
    import json
    import secrets

    from possync.models import webhook_tokens
    from possync.models.db import session_scope
    from possync.models.tables import InboundEvent, SyncJob

    tenant_id = _tenant(scale, "xflood", {"kind": "lightspeed-x", "domain_prefix": "xflood", "access_token": "t"})

    posts = FLOOD_POSTS if not scale.small else FLOOD_POSTS // 5

    def count(model: Any) -> int:
        with session_scope(scale.url) as session:
            return session.scalar(sa.select(sa.func.count()).select_from(model).where(model.tenant_id == tenant_id))

    client, deliver, _ = _receiver(scale)
    with _paced(deliver, 50) as quiet:
        time.sleep(10)
    forged = Counter()
    payload = {"type": "customer.update", "payload": json.dumps({"id": str(uuid.uuid4())})}
    started = time.perf_counter()
    with _paced(deliver, 50) as during:
        for _ in range(posts):
            path = webhook_tokens.url_path("xflood", secrets.token_urlsafe(32))
            forged[client.post(path, data=payload).status_code] += 1
    seconds = time.perf_counter() - started
    stored, jobs_made = count(InboundEvent), count(SyncJob)
    quiet_p99, during_p99 = percentile(quiet, 99), percentile(during, 99)
    scale.say(f"flood: {dict(forged)} in {seconds:.0f} s; stored {stored}, jobs {jobs_made}; "
              f"live p99 {quiet_p99:.1f} -> {during_p99:.1f} ms")
    return [
        Result(f"scale: {posts:,} forged X-Series posts, hints stored and re-reads queued", stored + jobs_made,
               "rows", "0", stored + jobs_made == 0 and forged == Counter({404: posts}),
               f"answers {dict(forged)}; {posts / seconds:,.0f} posts/s through the app; no job: no vendor request"),
        Result("scale: another tenant's delivery p99 during the flood", during_p99, "ms", "(informational)", True,
               f"signed Shopify deliveries at 50/s in a thread of the process the flood runs in (they share the "
               f"interpreter lock and the 2 cores); quiet p99 {quiet_p99:.1f} ms"),
    ]


# --- the parts, in order ----------------------------------------------------------------------------------------
Part = Callable[[Scale], list[Result]]
PARTS: list[tuple[str, Part]] = [
    ("load", load_history),
    ("metrics", metrics_and_status),
    ("prune", prune_part),
    ("metrics-after-prune", lambda scale: metrics_and_status(scale, " (after prune)")),
    ("beat", beat_part),
    ("forged-hints", flood_part),
]


def run(progress: Callable[[str], None] = print, small: bool = False) -> list[Result]:
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
