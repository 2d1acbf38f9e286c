"""Process-wide resources, made on first use: the Redis client, the limiter, database sessions.

In embedded mode (no POSSYNC_REDIS_URL) Redis is a `fakeredis` server shared by every thread of this
process, running the same Lua scripts, so the demo exercises the same limiter and locks as production.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import redis
import redis.sentinel
from redis.backoff import ExponentialWithJitterBackoff
from redis.retry import Retry
from sqlalchemy.orm import Session

from possync.models.db import UNAVAILABLE_ERRORS, session_scope
from possync.worker.celery_app import reconfigure
from possync.worker.fairqueue import FairQueues
from possync.worker.limiter import RateLimiter
from possync.worker.settings import Settings, get_settings, set_settings


def connect_redis(settings: Settings, **options: Any) -> redis.Redis:
    """A client of the configured Redis (`options`: redis-py connection options), made without I/O.

    With a `sentinel://` URL it is a client of the sentinels' current master: each new connection asks
    them where the master is, and a connection to a master that was demoted is dropped, so the client
    follows a failover; the sentinels get the socket options only (kombu's reading of the URL). redis-py
    gives such a client no retries, so it gets those of a client made from a redis:// URL (up to 10, with
    jittered back-off from 10 ms doubling to 1 s), which ride over a failover that completes meanwhile.
    """
    if settings.sentinel:
        target = settings.sentinel
        options.setdefault("retry", Retry(ExponentialWithJitterBackoff(base=0.01, cap=1), 10))
        sentinels = redis.sentinel.Sentinel(target.sentinels, **options)
        return sentinels.master_for(target.master, db=target.db, username=target.username, password=target.password)
    if not settings.redis_url:
        raise ValueError("no POSSYNC_REDIS_URL to connect to")
    return redis.Redis.from_url(settings.redis_url, **options)


# Failures of the infrastructure, not of the work: the database or Redis is down or busy, and the same
# event or step succeeds once it is back (intake leaves the event to the sweeper, the runner backs off).
TRANSIENT_ERRORS: tuple[type[Exception], ...] = (*UNAVAILABLE_ERRORS, redis.RedisError)


@functools.cache
def redis_client() -> redis.Redis:
    settings = get_settings()
    if settings.redis_url:
        return connect_redis(settings, socket_timeout=5, socket_connect_timeout=3, health_check_interval=30)
    return _embedded_redis()


def _embedded_redis() -> redis.Redis:
    """fakeredis ships with the `demo` extra: a production worker always has a Redis URL."""
    try:
        import fakeredis
    except ImportError:
        raise RuntimeError("no POSSYNC_REDIS_URL, and the embedded Redis needs the demo extra: "
                           "pip install 'possync[demo]'") from None
    return fakeredis.FakeRedis(server=fakeredis.FakeServer())


@functools.cache
def limiter() -> RateLimiter:
    return RateLimiter(redis_client(), get_settings().redis_key_prefix)


@functools.cache
def fair_queues() -> FairQueues | None:
    """The fair lines of step messages (`possync.worker.fairqueue`); None without Redis (messages go straight on)."""
    settings = get_settings()
    return FairQueues(redis_client(), settings.redis_key_prefix, settings.queue_depth) if settings.redis_url else None


@contextmanager
def db_session() -> Iterator[Session]:
    with session_scope(get_settings().database_url) as session:
        yield session


def activate(settings: Settings) -> None:
    """Make `settings` this process's configuration: Celery app, Redis client and limiter follow."""
    set_settings(settings)
    redis_client.cache_clear()
    limiter.cache_clear()
    fair_queues.cache_clear()
    reconfigure(settings)
