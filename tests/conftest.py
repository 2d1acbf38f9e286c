"""Shared fixtures: real PostgreSQL and Redis on 127.0.0.1, each test run in its own space.

PostgreSQL: one database `possync_test_<random>` per run, migrated with Alembic, tables emptied
after every test that used it, dropped at the end. Redis: one key prefix per run, its keys deleted
at the end. When a server is not reachable the tests fail with the command that starts it.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
import redis
import sqlalchemy as sa
from cryptography.fernet import Fernet
from sqlalchemy.orm import Session

from possync.models.db import get_sessionmaker
from possync.models.migrate import upgrade
from possync.models.tables import Base
from possync.worker.settings import Settings, load_settings
from tests.resilience.servers import SentinelGroup, running_sentinel_group

PG_ADMIN_URL = os.environ.get("POSSYNC_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_TEST_URL = os.environ.get("POSSYNC_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
START_PG = "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"
START_REDIS = 'redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no'
RUN_ID = uuid.uuid4().hex[:10]


@pytest.fixture(scope="session")
def secret_key() -> str:
    return Fernet.generate_key().decode()


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A fresh, migrated PostgreSQL database for this test run."""
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"possync_test_{RUN_ID}"
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except sa.exc.OperationalError as exc:
        pytest.fail(f"PostgreSQL is not reachable at {PG_ADMIN_URL} ({exc.orig}); start it with: {START_PG}")
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    upgrade(url)
    yield url
    from possync.models.db import get_engine

    get_engine(url).dispose()
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _truncate(url: str) -> None:
    from possync.models.db import get_engine

    names = ", ".join(t.name for t in reversed(Base.metadata.sorted_tables))
    with get_engine(url).begin() as conn:
        conn.execute(sa.text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))


@pytest.fixture
def db_url(pg_url: str) -> Iterator[str]:
    """The run's PostgreSQL database, emptied after the test."""
    yield pg_url
    _truncate(pg_url)


@pytest.fixture
def session(db_url: str) -> Iterator[Session]:
    s = get_sessionmaker(db_url)()
    yield s
    s.rollback()
    s.close()


@pytest.fixture
def sqlite_url(tmp_path) -> str:  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 'possync.db'}"
    upgrade(url)
    return url


@pytest.fixture(scope="session")
def redis_server_url() -> str:
    client = redis.Redis.from_url(REDIS_TEST_URL)
    try:
        client.ping()
    except redis.ConnectionError as exc:
        pytest.fail(f"Redis is not reachable at {REDIS_TEST_URL} ({exc}); start it with: {START_REDIS}")
    finally:
        client.close()
    return REDIS_TEST_URL


@pytest.fixture
def redis_prefix(redis_server_url: str) -> Iterator[str]:
    """A key prefix owned by this test; its keys are deleted afterwards."""
    prefix = f"possync-test:{RUN_ID}:{uuid.uuid4().hex[:8]}:"
    yield prefix
    client = redis.Redis.from_url(redis_server_url)
    for key in client.scan_iter(match=prefix + "*", count=1000):
        client.delete(key)
    client.close()


@pytest.fixture
def redis_client(redis_server_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_server_url)
    yield client
    client.close()


@pytest.fixture
def activate_env(secret_key: str):  # type: ignore[no-untyped-def]
    """Switch this process's settings (Celery app, Redis, limiter) to an env; restored afterwards."""
    from possync.worker.runtime import activate
    from possync.worker.settings import get_settings, load_settings

    previous = get_settings()

    def use(**env: str) -> None:
        activate(load_settings({"POSSYNC_SECRET_KEY": secret_key, **env}))

    yield use
    activate(previous)


# A private Redis Sentinel group (primary, replica, two sentinels) for the tests of every Redis use.
@pytest.fixture(scope="session")
def sentinel_group(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SentinelGroup]:
    with running_sentinel_group(tmp_path_factory.mktemp("sentinel")) as group:
        yield group


@pytest.fixture
def sentinel_settings(sentinel_group: SentinelGroup) -> Iterator[Settings]:
    """Settings on the group's `sentinel://` URL; its keys are flushed afterwards."""
    yield load_settings(sentinel_group.env())
    sentinel_group.ensure_running()
    sentinel_group.flush()
