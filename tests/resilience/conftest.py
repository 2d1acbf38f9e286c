"""The resilience stack: the end-to-end harness pointed at PRIVATE Redis and PostgreSQL servers.

The shared servers on 6379 and 5432 serve other developers' runs at the same time, so the tests that
kill a broker or a database get their own (see `servers.py`), started once per session and stopped at
the end. Each test gets fresh workers and fakes; afterwards the tables are emptied and Redis flushed.

Settings are process-global (`possync.worker.runtime.activate`), and the e2e fixtures activate theirs once per
session, so every test here activates the private environment again when it starts: `pytest tests/e2e
tests/resilience` runs both suites in one process.
"""

from __future__ import annotations

import json
import re
import time
import uuid
import warnings
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from possync.models.db import get_engine, session_scope
from possync.models.migrate import upgrade
from possync.models.tables import EventStatus, InboundEvent, JobStatus, SyncJob
from possync.worker.settings import load_settings
from tests.conftest import RUN_ID, _truncate
from tests.e2e.harness import SHOPIFY_TOKEN, ServedApp, Shop, WorkerProcess, add_tenant, make_pos_fake, tenant_file
from tests.resilience.servers import PostgresCluster, RedisServer, SentinelGroup, running_sentinel_group

RES_PREFIX = f"possync-res:{RUN_ID}:"
EMAIL_RE = re.compile(r"[a-z0-9._+-]+@res\.example\.com")
FINISHED = (JobStatus.SUCCEEDED.value, JobStatus.FAILED.value)
# The sweeper's grace for events stored but never enqueued is 30 s in production (beat runs it every
# minute); the tests call `sweep()` themselves with this shorter grace so a lost enqueue shows up fast.
TEST_EVENT_GRACE_SECONDS = 2.0
ADDRESS = {"address1": "150 Elgin St", "city": "Ottawa", "provinceCode": "ON", "zip": "K2P 1L4",
           "countryCode": "CA"}  # Heartland needs one (SPEC rule 22)


@pytest.fixture(scope="session")
def res_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("resilience")


@pytest.fixture(scope="session")
def private_redis(res_dir: Path) -> Iterator[RedisServer]:
    server = RedisServer(res_dir)
    server.start()
    yield server
    server.stop(crash=False)


@pytest.fixture(scope="session")
def private_pg() -> Iterator[PostgresCluster]:
    cluster = PostgresCluster()
    try:
        cluster.init()
        cluster.start()
        upgrade(cluster.url)
        yield cluster
    finally:
        get_engine(cluster.url).dispose()
        cluster.destroy()


@pytest.fixture(scope="session")
def res_env(private_pg: PostgresCluster, private_redis: RedisServer, secret_key: str,
            res_dir: Path) -> dict[str, str]:
    """The environment of this process and of every worker it starts."""
    return {
        "POSSYNC_DATABASE_URL": private_pg.url,
        "POSSYNC_REDIS_URL": private_redis.url,
        "POSSYNC_SECRET_KEY": secret_key,
        "POSSYNC_REDIS_KEY_PREFIX": RES_PREFIX,
        "POSSYNC_LOG_FORMAT": "json",
        "POSSYNC_RETRY_BACKOFF_MAX_SECONDS": "1",
        "POSSYNC_SWEEP_AFTER_SECONDS": "3",
        "POSSYNC_E2E_LOG_DIR": str(res_dir),
    }


@pytest.fixture(scope="session")
def res_receiver(res_env: dict[str, str]) -> Iterator[ServedApp]:
    """The receiver on a socket, on the private database; it enqueues through this process's Celery app."""
    from possync.entry.web.app import create_app
    from possync.tasks.intake import enqueue_event

    served = ServedApp(create_app(res_env["POSSYNC_DATABASE_URL"], res_env["POSSYNC_SECRET_KEY"], enqueue_event,
                                  secrets_ttl=0.0))
    yield served
    served.stop()


@dataclass
class Stack:
    """One test's view of the stack: start workers and shops, sweep, read jobs and events."""

    env: dict[str, str]
    pg: PostgresCluster
    redis: RedisServer | SentinelGroup
    receiver_url: str
    workers: list[WorkerProcess] = field(default_factory=list)
    restarts: list[str] = field(default_factory=list)  # why each exited worker was started again
    retired: list[WorkerProcess] = field(default_factory=list)
    fakes: list[Any] = field(default_factory=list)
    last_sweep_error: str | None = None
    swept_events: int = 0  # events the sweeper enqueued (again) during the test
    swept_jobs: int = 0  # jobs whose chain it started again

    @property
    def db_url(self) -> str:
        return self.env["POSSYNC_DATABASE_URL"]

    def start_worker(self, concurrency: int = 2, **overrides: str) -> WorkerProcess:
        from possync.worker.celery_app import app

        process = WorkerProcess(self.env | overrides, ("--concurrency", str(concurrency)))
        process.start()
        self.workers.append(process)
        process.wait_ready(app, timeout=60)
        return process

    def kill_worker(self, process: WorkerProcess) -> None:
        """SIGKILL the worker's whole process group (the main process and its pool children)."""
        process.kill()
        self.workers.remove(process)
        self.retired.append(process)

    def shop(self, kind: str, pos: Any = None) -> Shop:
        """A tenant of `kind` with its fakes (`pos`: a POS fake of the test's own, not yet started)."""
        from possync.adapters.shopify.fake import FakeShopify

        name = f"{kind.split('-')[-1][0]}{uuid.uuid4().hex[:8]}"
        shopify = FakeShopify(SHOPIFY_TOKEN, shop_domain=f"{name}.myshopify.com", maximum_available=None)
        pos = pos or make_pos_fake(kind, rate_limited=False)
        shopify.start()
        pos.start()
        self.fakes.extend([shopify, pos])
        secret = uuid.uuid4().hex
        add_tenant(self.db_url, self.env["POSSYNC_SECRET_KEY"], tenant_file(name, kind, shopify.url, pos, secret))
        return Shop(name, kind, f"{name}.myshopify.com", secret, shopify, pos, self.receiver_url)

    def sweep(self) -> None:
        """One sweeper run in this process (what beat does every minute). A failure is kept, not raised:
        beat would simply try again at its next tick."""
        from possync.tasks.sweeper import sweep

        try:
            result = sweep(event_grace=TEST_EVENT_GRACE_SECONDS)
            self.swept_events += result.events
            self.swept_jobs += result.jobs
            self.last_sweep_error = None
        except Exception as exc:  # the broker or database may still be coming back
            self.last_sweep_error = f"{type(exc).__name__}: {exc}"

    def wait_sweeping(self, predicate: Callable[[], Any], timeout: float, what: str, every: float = 3.0) -> Any:
        """Poll `predicate`, running the sweeper every `every` seconds meanwhile."""
        deadline = time.monotonic() + timeout
        next_sweep = time.monotonic() + every
        while True:
            value = predicate()
            if value:
                return value
            now = time.monotonic()
            if now > deadline:
                raise AssertionError(f"timed out after {timeout}s waiting for {what} "
                                     f"(last sweep error: {self.last_sweep_error}); {self.summary()}; "
                                     f"worker log:\n{self.worker_tail()}")
            self.supervise()
            if now >= next_sweep:
                self.sweep()
                next_sweep = time.monotonic() + every
            time.sleep(0.2)

    def supervise(self) -> None:
        """What the deployment's supervisor does (docker compose `restart: unless-stopped`, a Kubernetes
        Deployment): a worker process that exited is started again. Each restart is reported as a
        warning, so a test that needed one says so."""
        for index, process in enumerate(self.workers):
            if process.proc is None or process.proc.poll() is None:
                continue
            reason = f"worker exited with code {process.proc.returncode} ({_last_error(process)})"
            self.restarts.append(reason)
            warnings.warn(f"the supervisor restarted a {reason}", stacklevel=2)
            self.retired.append(process)
            replacement = process.fresh()
            replacement.start()
            self.workers[index] = replacement

    def lease_recoveries(self) -> int:
        """Messages the workers' fair lines put back in line after their lease lapsed (their task died, or
        failed on an outage, before finishing): recovery without the sweeper."""
        total = 0
        for process in self.workers + self.retired:
            for line in process.tail(100_000).splitlines():
                try:
                    entry = json.loads(line)
                except ValueError:
                    continue
                if isinstance(entry, dict) and str(entry.get("event", "")).startswith("jobs whose lease lapsed"):
                    total += int(entry.get("jobs", 0))
        return total

    def worker_tail(self, lines: int = 8, width: int = 300) -> str:
        return "\n---\n".join("\n".join(line[:width] for line in w.tail(lines).splitlines()) for w in self.workers)

    def summary(self) -> str:
        """Events by status and jobs by (status, step): what is stuck where."""
        events = Counter(e.status for e in self.events())
        jobs = Counter(f"{j.status}@{j.step}" for j in self.jobs())
        return f"events {dict(events)}, jobs {dict(jobs)}"

    def jobs(self) -> list[SyncJob]:
        with session_scope(self.db_url) as session:
            return list(session.scalars(select(SyncJob).order_by(SyncJob.id)))

    def events(self) -> list[InboundEvent]:
        with session_scope(self.db_url) as session:
            return list(session.scalars(select(InboundEvent).order_by(InboundEvent.id)))

    def all_finished(self, count: int) -> list[SyncJob] | None:
        """Every job finished and at least `count` of them, else None."""
        jobs = self.jobs()
        done = [j for j in jobs if j.status in FINISHED]
        return jobs if len(jobs) >= count and len(done) == len(jobs) else None

    def events_settled(self) -> bool:
        return all(e.status not in (EventStatus.RECEIVED.value, EventStatus.ENQUEUED.value) for e in self.events())

    def stop_all(self) -> None:
        for process in self.workers + self.retired:
            process.stop()
        for fake in self.fakes:
            fake.stop()


def _last_error(process: WorkerProcess) -> str:
    """The last error-level event in a worker's JSON log, shortened (why it exited)."""
    for line in reversed(process.tail(200).splitlines()):
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict) and entry.get("level") in ("error", "critical"):
            return str(entry.get("event", ""))[:160]
    return "no error logged"


def assert_each_created_once(jobs: list[SyncJob], deliveries: int, shops: list[Shop],
                             emails: Callable[[Shop], list[str]]) -> None:
    """One job per delivery, each succeeded having created its customer, and each customer once in its POS."""
    assert len(jobs) == deliveries
    assert len({j.event_id for j in jobs}) == deliveries  # one job per delivery, none made twice
    assert [(j.id, j.last_error) for j in jobs if j.status != JobStatus.SUCCEEDED.value] == []
    assert [j.outcome for j in jobs].count("created") == deliveries
    for shop in shops:
        assert pos_emails(shop) == dict.fromkeys(emails(shop), 1), shop.kind


def pos_emails(shop: Shop) -> Counter[str]:
    """How many POS customer records carry each test email (`...@res.example.com`)."""
    state = shop.pos.state()
    records = state["customers"] if isinstance(state, dict) else state
    counts: Counter[str] = Counter()
    for record in records:
        counts.update(set(EMAIL_RE.findall(json.dumps(record).lower())))
    return counts


def _stack(env: dict[str, str], pg: PostgresCluster, redis: RedisServer | SentinelGroup,
           receiver: ServedApp) -> Iterator[Stack]:
    from possync.worker.runtime import activate

    activate(load_settings(env))
    built = Stack(env, pg, redis, receiver.url)
    try:
        yield built
    finally:
        built.stop_all()
        pg.ensure_running()
        redis.ensure_running()
        _truncate(pg.url)
        redis.flush()


@pytest.fixture
def stack(res_env: dict[str, str], private_pg: PostgresCluster, private_redis: RedisServer,
          res_receiver: ServedApp) -> Iterator[Stack]:
    yield from _stack(res_env, private_pg, private_redis, res_receiver)


@pytest.fixture(scope="session")
def sentinel_group(res_dir: Path) -> Iterator[SentinelGroup]:
    with running_sentinel_group(res_dir / "sentinel") as group:
        yield group


@pytest.fixture
def sentinel_stack(res_env: dict[str, str], private_pg: PostgresCluster, sentinel_group: SentinelGroup,
                   res_receiver: ServedApp) -> Iterator[Stack]:
    """The stack with `POSSYNC_REDIS_URL=sentinel://...`: the broker, limiter and locks behind Sentinel."""
    yield from _stack(res_env | sentinel_group.env(), private_pg, sentinel_group, res_receiver)
