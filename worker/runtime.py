"""Process-wide resources, made on first use: the Redis client, the limiter, database sessions.

In embedded mode (no POSSYNC_REDIS_URL) Redis is a `fakeredis` server shared by every thread of this
process, running the same Lua scripts, so the demo exercises the same limiter and locks as production.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager

import fakeredis
import redis
from sqlalchemy.orm import Session

from models.db import session_scope
from worker.limiter import RateLimiter
from worker.settings import Settings, get_settings, set_settings


@functools.cache
def redis_client() -> redis.Redis:
    url = get_settings().redis_url
    if url:
        return redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=3, health_check_interval=30)
    return fakeredis.FakeRedis(server=fakeredis.FakeServer())


@functools.cache
def limiter() -> RateLimiter:
    return RateLimiter(redis_client(), get_settings().redis_key_prefix)


@contextmanager
def db_session() -> Iterator[Session]:
    with session_scope(get_settings().database_url) as session:
        yield session


def activate(settings: Settings) -> None:
    """Make `settings` this process's configuration: Celery app, Redis client and limiter follow."""
    from worker.celery_app import reconfigure

    set_settings(settings)
    redis_client.cache_clear()
    limiter.cache_clear()
    reconfigure(settings)
