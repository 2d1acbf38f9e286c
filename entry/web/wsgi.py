"""The receiver for gunicorn: `gunicorn -c python:possync.entry.web.gunicorn_conf possync.entry.web.wsgi:app`.

Built from the environment (`possync.worker.settings`). gunicorn runs several processes, so the broker must
be Redis (`POSSYNC_REDIS_URL`); loading this module without it fails with a message naming it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

from flask import Flask

from possync.entry.web.app import create_app
from possync.worker.fairqueue import QueueDepth
from possync.worker.logging import configure_logging
from possync.worker.settings import Settings, get_settings

BROKER_PING_TIMEOUT = 2.0  # seconds; readiness must answer well inside a probe's timeout


def enqueue_event(event_id: int, tenant_id: int | None) -> None:
    """Hand a stored event to the pipeline. Imported on first use: the task module loads Celery."""
    from possync.tasks.intake import enqueue_event as enqueue

    enqueue(event_id, tenant_id)


def redis_ping(settings: Settings) -> Callable[[], None]:
    """A readiness check of the broker: one PING on a client kept for the process (through the sentinels to
    their master with a sentinel:// URL). One immediate retry, for a pooled connection the broker dropped
    (a restart, a failover), rather than redis-py's ten spaced ones that would outlast the probe."""
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    from possync.worker.runtime import connect_redis

    client = connect_redis(settings, socket_timeout=BROKER_PING_TIMEOUT, socket_connect_timeout=BROKER_PING_TIMEOUT,
                           retry=Retry(NoBackoff(), 1))

    def ping() -> None:
        client.ping()

    return ping


def build_app() -> Flask:
    settings = get_settings()
    configure_logging(settings.log_format)
    settings.require_redis("serve (under gunicorn)")
    # Load the task module (and Celery with it) now rather than on the first delivery, which would
    # otherwise pay the import; without it the app still loads and each enqueue fails (sweeper catches up).
    with contextlib.suppress(ImportError):
        import possync.tasks.intake  # noqa: F401
    return create_app(
        settings.database_url,
        settings.require_secret_key(),
        enqueue_event,
        broker_ping=redis_ping(settings),
        queue_depths=queue_depths,
        console_auth=settings.console_basic_auth,
        metrics_auth=settings.metrics_basic_auth,
    )


def queue_depths() -> dict[str, QueueDepth]:
    from possync.tasks.operations import queue_counts

    return queue_counts()


app = build_app()
