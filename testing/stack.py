"""The process stack of a benchmark or an end-to-end test: a fresh database, a Redis key prefix, `possync
worker` processes, the receiver and the vendor fakes, all owned by one run and removed at its end.

Without pytest (`tests/e2e/harness.py` adds the test's parts): a benchmark is a plain function that
opens a `Stack`, drives it and reads numbers back. Each `Stack` creates `possync_bench_<random>` on
the local PostgreSQL (migrated with Alembic) and a `possync-bench:<random>:` Redis prefix, switches
this process's settings to them (so `enqueue_job` and `app.control` talk to the same broker as its
workers) and drops both on close, whatever happened.
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import kombu.exceptions
import redis
import requests
import sqlalchemy as sa
from cryptography.fernet import Fernet
from werkzeug.serving import make_server

from possync.adapters.fakes.server import FakeVendorServer
from possync.adapters.heartland.fake import FakeServer as HeartlandFake
from possync.adapters.lightspeed_r.fake import FakeServer as LightspeedRFake
from possync.adapters.lightspeed_x.fake import FakeServer as LightspeedXFake
from possync.adapters.shopify.fake import FakeShopify
from possync.adapters.shopify.webhooks import address_payload, customer_payload, order_payload, send_webhook
from possync.entry.web.app import create_app
from possync.models.db import get_engine, session_scope
from possync.models.migrate import upgrade
from possync.models.tables import SyncJob, Tenant
from possync.models.tenant_file import validate_tenant_data
from possync.models.tenants import apply_tenant
from possync.tasks import jobs
from possync.tasks.intake import enqueue_event, queue_for_tenant
from possync.tasks.sending import enqueue_job
from possync.worker.celery_app import app as possync_app
from possync.worker.celery_app import drop_pooled_connections
from possync.worker.runtime import activate
from possync.worker.settings import get_settings, load_settings

REPO = Path(__file__).resolve().parents[1]
PG_SERVER_URL = os.environ.get("POSSYNC_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432")
REDIS_URL = os.environ.get("POSSYNC_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
SHOPIFY_TOKEN = "shpat_bench"
POS_TOKENS = {"lightspeed-r": "lsr-bench-token", "lightspeed-x": "lsx-bench-token", "heartland": "hl-bench-token"}
KINDS = ("lightspeed-r", "lightspeed-x", "heartland")
UNLIMITED = 1e9  # bucket size and refill per second that no benchmark can reach


def wait_for(predicate: Callable[[], Any], timeout: float = 30.0, interval: float = 0.05, what: str = "") -> Any:
    """Poll until `predicate()` is truthy; raise `TimeoutError` naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what or predicate}")
        time.sleep(interval)


# --- database and Redis ----------------------------------------------------------------------------------
def create_database() -> tuple[str, str]:
    """A new, migrated database; returns (name, SQLAlchemy URL)."""
    name = f"possync_bench_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(f"{PG_SERVER_URL}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    url = f"{PG_SERVER_URL}/{name}"
    upgrade(url)
    return name, url


def drop_database(name: str) -> None:
    get_engine(f"{PG_SERVER_URL}/{name}").dispose()  # this process's pooled connections
    admin = sa.create_engine(f"{PG_SERVER_URL}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def clean_redis(prefix: str) -> int:
    """Delete every key under `prefix`; returns how many."""
    client = redis.Redis.from_url(REDIS_URL)
    deleted = 0
    for key in client.scan_iter(match=prefix + "*", count=1000):
        deleted += client.delete(key)
    client.close()
    return deleted


# --- processes ---------------------------------------------------------------------------------------------
_GROUPS: set[int] = set()  # process groups started here and not yet stopped: killed when this process exits


def signal_group(pgid: int, sig: int) -> bool:
    """Send `sig` to a process group; False when no process of it is left."""
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        return False
    return True


@atexit.register
def kill_leftover_groups() -> None:
    """A run that failed, or was stopped, before closing its stack leaves no worker behind."""
    while _GROUPS:
        signal_group(_GROUPS.pop(), signal.SIGKILL)


def _exit_on_sigterm(signum: int, _frame: Any) -> None:
    raise SystemExit(128 + signum)  # so `finally` blocks and `kill_leftover_groups` run


class WorkerProcess:
    """A worker in its own process group: `possync worker ARGS` by default, or any `command`."""

    def __init__(self, env: dict[str, str], args: Sequence[str] = ("--concurrency", "2"), *,
                 command: Sequence[str] | None = None, log_dir: str | None = None) -> None:
        self.env = env
        self.command = list(command) if command else [
            sys.executable, "-m", "possync.entry.cli", "worker", "--loglevel", "WARNING", *args]
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = Path(log_dir or tempfile.gettempdir()) / f"possync-bench-worker-{uuid.uuid4().hex[:6]}.log"
        self._out: Any = None

    def fresh(self) -> WorkerProcess:
        """A new, unstarted process with this one's environment and command: a supervisor's restart."""
        return type(self)(self.env, command=self.command, log_dir=str(self.log.parent))

    def start(self) -> WorkerProcess:
        full = {k: v for k, v in os.environ.items() if not k.startswith("POSSYNC_")} | self.env
        self._out = self.log.open("wb")
        self.proc = subprocess.Popen(self.command, cwd=REPO, env=full, stdout=self._out, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        _GROUPS.add(self.proc.pid)
        return self

    def wait_ready(self, app: Any, destination: str | None = None, timeout: float = 60.0) -> None:
        """Until the worker answers a ping on `app`'s broker (`destination`: its node name)."""
        def ready() -> bool:
            if self.proc is None or self.proc.poll() is not None:
                raise RuntimeError(f"worker exited: {self.tail()}")
            try:
                replies = app.control.ping(timeout=0.5, destination=[destination] if destination else None)
            except (redis.exceptions.ConnectionError, kombu.exceptions.OperationalError):
                # A pooled connection to a Redis that an earlier test restarted: drop the pool, ping again.
                drop_pooled_connections(app)
                return False
            return bool(replies)

        wait_for(ready, timeout, 0.2, "the worker to answer a ping")

    def stop(self, timeout: float = 20.0) -> None:
        """TERM, then KILL, the whole process group: pool children outlive a main process that crashed."""
        if self.proc is not None:
            if signal_group(self.proc.pid, signal.SIGTERM):
                deadline = time.monotonic() + timeout
                while time.monotonic() < deadline and (self.proc.poll() is None or signal_group(self.proc.pid, 0)):
                    time.sleep(0.05)
                signal_group(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=timeout)
            _GROUPS.discard(self.proc.pid)
        if self._out is not None:
            self._out.close()
            self._out = None

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def cpu_seconds(self) -> float:
        """User + system CPU of the worker's process group so far (Linux /proc; children included)."""
        if self.proc is None:
            return 0.0
        return process_group_cpu(self.proc.pid)


def _proc_stats() -> Iterator[tuple[str, list[str]]]:
    """(command name, the fields after it) of every process in /proc/*/stat."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            head, tail = stat.read_text().rsplit(")", 1)
        except OSError:
            continue
        yield head.split("(", 1)[1], tail.split()


def process_group_cpu(pgid: int) -> float:
    """User + system CPU seconds of the live processes of a process group (field 5 of stat)."""
    ticks = os.sysconf("SC_CLK_TCK")
    return sum((int(f[11]) + int(f[12])) / ticks for _name, f in _proc_stats() if int(f[2]) == pgid)


def command_cpu(*names: str) -> float:
    """User + system CPU seconds of the live processes with one of these command names (`postgres`)."""
    ticks = os.sysconf("SC_CLK_TCK")
    return sum((int(f[11]) + int(f[12])) / ticks for name, f in _proc_stats() if name in names)


def machine_cpu() -> float:
    """Busy CPU seconds of the whole machine since boot (/proc/stat: all but idle and iowait)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    busy = sum(fields) - fields[3] - (fields[4] if len(fields) > 4 else 0)
    return busy / os.sysconf("SC_CLK_TCK")


def own_cpu() -> float:
    """CPU seconds of this process, all threads (the fakes serve from here)."""
    times = os.times()
    return times.user + times.system


@dataclass(frozen=True)
class CpuSample:
    """Where the machine's CPU went, sampled before and after a measurement."""

    worker: float
    own: float
    postgres: float
    redis: float
    machine: float

    @classmethod
    def take(cls, workers: Sequence[WorkerProcess] = ()) -> CpuSample:
        return cls(sum(w.cpu_seconds() for w in workers), own_cpu(), command_cpu("postgres"),
                   command_cpu("redis-server"), machine_cpu())

    def __sub__(self, other: CpuSample) -> CpuSample:
        return CpuSample(self.worker - other.worker, self.own - other.own, self.postgres - other.postgres,
                         self.redis - other.redis, self.machine - other.machine)

    @property
    def stack(self) -> float:
        """CPU of the stack under test: worker, this process (fakes), PostgreSQL, Redis; not other programs."""
        return self.worker + self.own + max(0.0, self.postgres) + max(0.0, self.redis)

    def per_item_note(self, count: int, seconds: float) -> str:
        """CPU ms per item by consumer, and how busy the machine was (other programs included)."""
        per = 1000.0 / max(1, count)
        other = max(0.0, self.machine - self.stack)
        busy = self.machine / (seconds * (os.cpu_count() or 1)) * 100
        postgres, redis_cpu = max(0.0, self.postgres), max(0.0, self.redis)
        return (f"CPU ms each: worker {self.worker * per:.1f}, fakes+driver {self.own * per:.1f}, "
                f"PostgreSQL {postgres * per:.1f}, Redis {redis_cpu * per:.1f}, other programs "
                f"{other * per:.1f}; machine {busy:.0f}% busy")


class ServedApp:
    """A WSGI app on a real socket in a thread (the receiver)."""

    def __init__(self, app: Any) -> None:
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.port}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# --- fakes and tenants ---------------------------------------------------------------------------------------
def make_pos_fake(kind: str, **options: Any) -> FakeVendorServer:
    """A POS fake with its vendor limit switched off unless `options` set one (fakes answer at once)."""
    token = POS_TOKENS[kind]
    if kind == "lightspeed-r":
        return LightspeedRFake(**{"access_token": token, "bucket_size": None, **options})
    if kind == "lightspeed-x":
        return LightspeedXFake(**{"access_token": token, "rate_limit": None, **options})
    return HeartlandFake(**{"api_token": token, "requests_per_window": None, **options})


def tenant_file(name: str, kind: str, shopify_url: str, pos: FakeVendorServer, secret: str,
                settings: dict[str, Any] | None = None) -> dict[str, Any]:
    pos_section: dict[str, Any] = {"kind": kind, "base_url": pos.url, "access_token": POS_TOKENS[kind]}
    if kind == "lightspeed-r":
        pos_section["account_id"] = pos.account_id  # type: ignore[attr-defined]
    elif kind == "lightspeed-x":
        pos_section["domain_prefix"] = pos.domain_prefix  # type: ignore[attr-defined]
    else:
        pos_section["subdomain"] = name
    return {
        "name": name,
        "account_name": f"{name}store",
        "shopify": {"shop_domain": f"{name}.myshopify.com", "access_token": SHOPIFY_TOKEN, "client_secret": secret,
                    "api_base_url": shopify_url},
        "pos": pos_section,
        "settings": settings or {},
    }


@dataclass
class Shop:
    """One tenant: its Shopify fake, its POS fake, its tenant id and the secret its webhooks are signed with."""

    name: str
    kind: str
    tenant_id: int
    domain: str
    secret: str
    shopify: Any  # FakeShopify
    pos: FakeVendorServer
    receiver_url: str | None
    session: requests.Session = field(default_factory=requests.Session)

    @property
    def bucket_key_suffix(self) -> str:
        return f"rl:pos:{self.name}"  # possync.worker.limiter keys: {prefix}rl:{bucket}, bucket = pos:{tenant}

    def send(self, topic: str, payload: dict[str, Any] | bytes, webhook_id: str | None = None) -> requests.Response:
        assert self.receiver_url, "this stack has no receiver"
        return send_webhook(f"{self.receiver_url}/webhooks/shopify", topic, payload, self.secret, self.domain,
                            webhook_id=webhook_id, session=self.session)


class Stack:
    """Database + Redis prefix + settings of this process + worker processes + receiver + fakes."""

    def __init__(self, label: str = "bench") -> None:
        run = uuid.uuid4().hex[:8]
        self.label = label
        self.database_name, self.database_url = create_database()
        self.redis_prefix = f"possync-bench:{run}:"
        self.secret_key = Fernet.generate_key().decode()
        self.log_dir = tempfile.mkdtemp(prefix=f"possync-bench-{label}-")
        self.env = {
            "POSSYNC_DATABASE_URL": self.database_url,
            "POSSYNC_REDIS_URL": REDIS_URL,
            "POSSYNC_SECRET_KEY": self.secret_key,
            "POSSYNC_REDIS_KEY_PREFIX": self.redis_prefix,
            "POSSYNC_LOG_FORMAT": "json",
            "POSSYNC_RETRY_BACKOFF_MAX_SECONDS": "2",  # a transient failure must not stall a timed run
        }
        self.workers: list[WorkerProcess] = []
        self.fakes: list[FakeVendorServer] = []
        self.receiver: ServedApp | None = None
        self._previous_settings: Any = None
        try:
            self._activate()
        except BaseException:
            drop_database(self.database_name)
            raise

    def _activate(self) -> None:
        self._previous_settings = get_settings()
        activate(load_settings(self.env))

    def settings(self) -> Any:
        """This run's `possync.worker.settings.Settings` (active in this process while the stack is open)."""
        return load_settings(self.env)

    # --- parts ----------------------------------------------------------------------------------------
    def start_worker(self, *args: str, command: Sequence[str] | None = None, app: Any = None,
                     node: str | None = None, env: dict[str, str] | None = None) -> WorkerProcess:
        """Start a worker and wait until it answers a ping (`app`/`node` for a non-possync worker)."""
        process = WorkerProcess(self.env | (env or {}), args or ("--concurrency", "2"), command=command,
                                log_dir=self.log_dir)
        self.workers.append(process.start())
        process.wait_ready(app or possync_app, node)
        return process

    def start_receiver(self) -> str:
        self.receiver = ServedApp(create_app(self.database_url, self.secret_key, enqueue_event))
        return self.receiver.url

    def start_fake(self, fake: FakeVendorServer) -> FakeVendorServer:
        fake.start()
        self.fakes.append(fake)
        return fake

    def add_shop(self, kind: str, *, pos: FakeVendorServer | None = None, settings: dict[str, Any] | None = None,
                 shopify_limit: float | None = None) -> Shop:
        """A tenant of `kind` with its own Shopify fake (unthrottled unless `shopify_limit`) and POS fake."""
        name = f"{kind.split('-')[-1][0]}{uuid.uuid4().hex[:8]}"
        shopify = self.start_fake(FakeShopify(SHOPIFY_TOKEN, shop_domain=f"{name}.myshopify.com",
                                              maximum_available=shopify_limit))
        pos = self.start_fake(pos or make_pos_fake(kind))
        secret = uuid.uuid4().hex
        data = tenant_file(name, kind, shopify.url, pos, secret, settings)
        with session_scope(self.database_url) as session:
            apply_tenant(session, validate_tenant_data(json.loads(json.dumps(data))), self.secret_key)
        with session_scope(self.database_url) as session:
            tenant_id = session.scalars(sa.select(Tenant.id).where(Tenant.name == name)).one()
        receiver = self.receiver.url if self.receiver else None
        return Shop(name, kind, tenant_id, f"{name}.myshopify.com", secret, shopify, pos, receiver)

    def lift_limiter(self, shop: Shop) -> None:
        """Tell the shared limiter the tenant's POS allows far more than we send, as a vendor's headers would.

        For benchmarks of the pipeline itself, with fakes whose limit is off (they send no rate-limit
        headers, so the limiter would otherwise keep the documented defaults, e.g. R-Series 1/s). The
        limiter still runs its Lua script on every request; only its answer is always "go".
        """
        client = redis.Redis.from_url(REDIS_URL)
        now_ms = int(time.time() * 1000)
        client.hset(self.redis_prefix + shop.bucket_key_suffix,
                    mapping={"tokens": UNLIMITED, "at": now_ms, "capacity": UNLIMITED, "rate": UNLIMITED})
        client.close()

    # --- teardown -------------------------------------------------------------------------------------
    def close(self) -> None:
        errors: list[BaseException] = []
        for step in ([w.stop for w in self.workers]
                     + ([self.receiver.stop] if self.receiver else [])
                     + [f.stop for f in self.fakes]):
            try:
                step()
            except Exception as exc:  # keep tearing down; report the first problem after
                errors.append(exc)
        try:
            drop_database(self.database_name)
        finally:
            clean_redis(self.redis_prefix)
            if self._previous_settings is not None:
                activate(self._previous_settings)
            shutil.rmtree(self.log_dir, ignore_errors=True)
        if errors:
            raise errors[0]

    def worker_tails(self) -> str:
        return "\n".join(w.tail() for w in self.workers)


@contextmanager
def stack(label: str = "bench") -> Iterator[Stack]:
    """An open `Stack`, closed on any exit: an error, Ctrl-C, or a SIGTERM (in the main thread)."""
    main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _exit_on_sigterm) if main else None
    try:
        opened = Stack(label)
        try:
            yield opened
        finally:
            opened.close()
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def queue_syncs(database_url: str, tenant_id: int, customers: list[str]) -> None:
    """New-customer sync jobs created directly and their chains started: a backlog there from the first second."""
    with session_scope(database_url) as session:
        queue = queue_for_tenant(session.get_one(Tenant, tenant_id))
        created = [jobs.new_job(session, tenant_id=tenant_id, subject=cid,
                                context={"topic": "customers/create", "customer_id": cid}) for cid in customers]
    for job in created:
        enqueue_job(job, queue)


# --- reading jobs back ---------------------------------------------------------------------------------------
def finished_count(database_url: str, tenant_id: int | None = None) -> int:
    query = "SELECT count(*) FROM sync_jobs WHERE status IN ('succeeded', 'failed')"
    params: dict[str, Any] = {}
    if tenant_id is not None:
        query += " AND tenant_id = :tenant"
        params["tenant"] = tenant_id
    with get_engine(database_url).connect() as conn:
        return int(conn.execute(sa.text(query), params).scalar_one())


def jobs_of(database_url: str, tenant_id: int) -> list[Any]:
    """The tenant's job rows, oldest first (detached, attributes loaded)."""
    with session_scope(database_url) as session:
        return list(session.scalars(sa.select(SyncJob).where(SyncJob.tenant_id == tenant_id).order_by(SyncJob.id)))


# --- customers ------------------------------------------------------------------------------------------------
ADDRESS = {"address1": "150 Elgin St", "city": "Ottawa", "provinceCode": "ON", "zip": "K2P 1L4", "countryCode": "CA"}


def _phone(i: int) -> str:
    return f"+1 613-{200 + i // 10000 % 800:03d}-{i % 10000:04d}"


def add_customer(shop: Shop, i: int, *, phone: bool = True, tag: str = "") -> str:
    """Customer number `i`, complete (name, email, phone, address: every POS can create it); returns its id."""
    return shop.shopify.add_customer(f"First{i}", f"Last{i}", f"customer{tag}{i}@example.com",
                                     _phone(i) if phone else None, address=ADDRESS, email_consent="SUBSCRIBED")


def order_webhook(customer_id: str, i: int, *, phone: bool = True, tag: str = "", order: int = 0) -> dict[str, Any]:
    """An `orders/create` body for customer number `i` (as `add_customer` stored it), as Shopify sends it."""
    first, last = f"First{i}", f"Last{i}"
    home = address_payload("150 Elgin St", "Ottawa", "ON", "K2P 1L4", "CA", first_name=first, last_name=last)
    customer = customer_payload(customer_id, f"customer{tag}{i}@example.com", first, last,
                                _phone(i) if phone else None, default_address=home)
    return order_payload(8_000_000_000 + 100_000 * order + i, customer, billing_address=home, shipping_address=home,
                         source_name="web")
