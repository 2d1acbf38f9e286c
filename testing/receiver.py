"""The HTTP receiver under gunicorn for a test or a benchmark: a fresh database with one tenant, gunicorn
serving `possync.entry.web.wsgi:app` with the production settings (`possync.entry.web.gunicorn_conf`), and a
Redis key prefix of the run; all removed afterwards. `tests/entry/web/test_buffered_worker.py` and the
intake, console and scale benchmarks share it (`testing.stack` is the whole pipeline's stack).
"""

from __future__ import annotations

import contextlib
import http.client
import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis
import sqlalchemy as sa
from cryptography.fernet import Fernet
from flask import Flask

from possync.adapters.shopify.webhooks import address_payload, customer_payload, order_payload
from possync.entry.web import gunicorn_conf

PG_ADMIN_URL = os.environ.get("POSSYNC_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("POSSYNC_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
SHOP = "bench.myshopify.com"
CLIENT_SECRET = "shpss_bench_secret"
# The production defaults (2 processes per core, 4 threads each).
WORKERS = gunicorn_conf.workers
THREADS = gunicorn_conf.threads
REPO = Path(__file__).resolve().parent.parent
LPUSH_LIST = "events"  # under the run's prefix, when possync.tasks.intake is not importable


@dataclass
class Environment:
    database_url: str
    redis_prefix: str
    secret_key: str
    real_enqueue: bool
    port: int = 0
    process: subprocess.Popen[bytes] | None = None
    metrics_dir: tempfile.TemporaryDirectory[str] | None = None
    log: Any = None  # gunicorn's stderr (a temporary file)
    notes: list[str] = field(default_factory=list)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def lpush_app() -> Flask:
    """The receiver wired to an LPUSH enqueue (gunicorn app factory, used when possync.tasks.intake is absent)."""
    from possync.entry.web.app import create_app

    client = redis.Redis.from_url(os.environ["POSSYNC_REDIS_URL"])
    key = os.environ.get("POSSYNC_REDIS_KEY_PREFIX", "") + LPUSH_LIST

    def enqueue(event_id: int, _tenant_id: int | None) -> None:
        client.lpush(key, event_id)

    return create_app(
        os.environ["POSSYNC_DATABASE_URL"], os.environ["POSSYNC_SECRET_KEY"], enqueue, broker_ping=client.ping
    )


def _celery_enqueue_available() -> bool:
    return importlib.util.find_spec("possync.tasks.intake") is not None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def environment(workers: int = WORKERS, threads: int = THREADS, enqueue: str = "auto",
                variables: dict[str, str] | None = None) -> Iterator[Environment]:
    """A fresh database with one tenant, and gunicorn serving the receiver; all removed afterwards.

    `enqueue`: `celery` (possync.tasks.intake), `lpush` (a Redis list) or `auto` (celery when importable);
    `variables` are added to gunicorn's environment."""
    from possync.models.db import get_engine, get_sessionmaker
    from possync.models.migrate import upgrade
    from possync.models.tenant_file import validate_tenant_data
    from possync.models.tenants import apply_tenant

    run = uuid.uuid4().hex[:8]
    name = f"possync_bench_{run}"
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    env = Environment(
        database_url=PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name,
        redis_prefix=f"possync-bench:{run}:",
        secret_key=Fernet.generate_key().decode(),
        real_enqueue=enqueue == "celery" or (enqueue == "auto" and _celery_enqueue_available()),
    )
    try:
        upgrade(env.database_url)
        session = get_sessionmaker(env.database_url)()
        tenant = validate_tenant_data({
            "name": "bench", "account_name": "bench",
            "shopify": {"shop_domain": SHOP, "access_token": "shpat_bench", "client_secret": CLIENT_SECRET},
            "pos": {"kind": "lightspeed-r", "account_id": "1", "access_token": "pos"},
        })
        apply_tenant(session, tenant, env.secret_key)
        session.commit()
        session.close()
        get_engine(env.database_url).dispose()
        _start_gunicorn(env, workers, threads, variables)
        yield env
    finally:
        _stop_gunicorn(env)
        client = redis.Redis.from_url(REDIS_URL)
        for key in client.scan_iter(match=env.redis_prefix + "*", count=1000):
            client.delete(key)
        client.close()
        from possync.models.db import get_engine as engine_for

        engine_for(env.database_url).dispose()
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextlib.contextmanager
def another_receiver(env: Environment, workers: int, threads: int, variables: dict[str, str],
                     nice: int = 0) -> Iterator[Environment]:
    """A second gunicorn on the same database and Redis prefix (own port), with `variables` added to its
    environment and started under `nice` (the operator console as its own receiver, `bench.console`)."""
    other = Environment(env.database_url, env.redis_prefix, env.secret_key, env.real_enqueue)
    try:
        _start_gunicorn(other, workers, threads, variables, nice)
        yield other
    finally:
        _stop_gunicorn(other)


def _start_gunicorn(env: Environment, workers: int, threads: int, extra: dict[str, str] | None = None,
                    nice: int = 0) -> None:
    env.port = _free_port()
    env.metrics_dir = tempfile.TemporaryDirectory(prefix="possync-bench-metrics-")
    app = "possync.entry.web.wsgi:app" if env.real_enqueue else "testing.receiver:lpush_app()"
    variables = {
        **os.environ,
        "POSSYNC_DATABASE_URL": env.database_url,
        "POSSYNC_REDIS_URL": REDIS_URL,
        "POSSYNC_REDIS_KEY_PREFIX": env.redis_prefix,
        "POSSYNC_SECRET_KEY": env.secret_key,
        "POSSYNC_LOG_FORMAT": "json",
        "PROMETHEUS_MULTIPROC_DIR": env.metrics_dir.name,
        **(extra or {}),
    }
    command = [
        *(["nice", "-n", str(nice)] if nice else []),
        str(Path(sys.executable).parent / "gunicorn"), "-c", "python:possync.entry.web.gunicorn_conf",
        "--bind", f"127.0.0.1:{env.port}", "--workers", str(workers), "--threads", str(threads), app,
    ]
    # gunicorn's log goes to a file: a pipe nobody reads would block it once the buffer fills.
    env.log = tempfile.TemporaryFile()  # noqa: SIM115 - closed in _stop_gunicorn
    env.process = subprocess.Popen(command, cwd=REPO, env=variables, stdout=subprocess.DEVNULL,
                                   stderr=env.log, start_new_session=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if env.process.poll() is not None:
            env.log.seek(0)
            raise RuntimeError(f"gunicorn exited: {env.log.read().decode(errors='replace')[-2000:]}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", env.port, timeout=1)
            conn.request("GET", "/readyz")
            if conn.getresponse().status == 200:
                conn.close()
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError("gunicorn did not become ready within 30 s")


def _stop_gunicorn(env: Environment) -> None:
    if env.process is not None and env.process.poll() is None:
        os.killpg(env.process.pid, signal.SIGTERM)  # our own session: gunicorn's master and its workers
        try:
            env.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(env.process.pid, signal.SIGKILL)
            env.process.wait()
    if env.metrics_dir is not None:
        env.metrics_dir.cleanup()
    if env.log is not None:
        env.log.close()




def delivery_body() -> bytes:
    """A signed-looking `orders/create` body of a realistic size (~3.5 KB): Ann Lee, her address, one order."""
    home = address_payload("150 Elgin St", "Ottawa", "ON", "K2P 1L4", "CA", first_name="Ann", last_name="Lee")
    customer = customer_payload(7_208_000_000_001, "ann.lee@example.com", "Ann", "Lee", "+16135551212",
                                default_address=home)
    return json.dumps(order_payload(8_208_000_000_001, customer, billing_address=home, shipping_address=home,
                                    source_name="web")).encode()

