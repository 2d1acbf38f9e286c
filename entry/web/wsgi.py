"""The receiver for gunicorn: `gunicorn -c python:possync.entry.web.gunicorn_conf possync.entry.web.wsgi:app`.

Built from the environment (`possync.worker.settings`). gunicorn runs several processes, so the broker must
be Redis (`POSSYNC_REDIS_URL`); loading this module without it fails with a message naming it.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask
from redis.backoff import NoBackoff
from redis.retry import Retry

from possync.entry.web.app import create_app
from possync.tasks.intake import enqueue_event
from possync.tasks.operations import queue_counts
from possync.worker.logging import configure_logging
from possync.worker.runtime import connect_redis
from possync.worker.settings import Settings, get_settings

BROKER_PING_TIMEOUT = 2.0  # seconds; readiness must answer well inside a probe's timeout


def redis_ping(settings: Settings) -> Callable[[], None]:
    """A readiness check of the broker: one PING on a client kept for the process (through the sentinels to
    their master with a sentinel:// URL). One immediate retry, for a pooled connection the broker dropped
    (a restart, a failover), rather than redis-py's ten spaced ones that would outlast the probe."""
    client = connect_redis(settings, socket_timeout=BROKER_PING_TIMEOUT, socket_connect_timeout=BROKER_PING_TIMEOUT,
                           retry=Retry(NoBackoff(), 1))

    def ping() -> None:
        client.ping()

    return ping


def build_app() -> Flask:
    settings = get_settings()
    configure_logging(settings.log_format)
    settings.require_redis("serve (under gunicorn)")
    return create_app(
        settings.database_url,
        settings.require_secret_key(),
        enqueue_event,
        broker_ping=redis_ping(settings),
        queue_depths=queue_counts,
        console_auth=settings.console_basic_auth,
        metrics_auth=settings.metrics_basic_auth,
    )


app = build_app()
