"""The Celery app and its one `conf.update` (celery-ops.md has the reasons for each setting).

With POSSYNC_REDIS_URL unset the broker is kombu's in-memory transport: valid only inside one
process (`possync demo`), where an in-process worker thread consumes it.
"""

from __future__ import annotations

from celery import Celery

from possync.worker.routing import INTAKE_QUEUE, declared_queues, route_task
from possync.worker.settings import Settings, get_settings

# Countdowns (retry back-off, rate-limit waits) never exceed this, and the Redis visibility timeout is
# well above it plus a step's run time (kombu#337, celery#2599: otherwise tasks run twice).
MAX_COUNTDOWN_SECONDS = 900
VISIBILITY_TIMEOUT_SECONDS = 3600
# A pool child's resident memory stays flat over thousands of syncs (README, bench soak); a child past
# about three times that is replaced after its task, a guard against a leak or an outsized payload that
# costs nothing while memory is normal (recycling every N tasks would drop caches for no measured gain).
MAX_MEMORY_PER_CHILD_KIB = 350_000

TASK_MODULES = ["possync.tasks.intake", "possync.tasks.pipeline", "possync.tasks.poll", "possync.tasks.sweeper",
                "possync.tasks.onboarding", "possync.tasks.retention", "possync.tasks.duplicate_scan"]


def celery_config(settings: Settings) -> dict[str, object]:
    transport_options: dict[str, object] = {"visibility_timeout": VISIBILITY_TIMEOUT_SECONDS}
    if settings.redis_key_prefix and settings.redis_url:
        transport_options["global_keyprefix"] = settings.redis_key_prefix
    if settings.sentinel:  # kombu asks the sentinels for this master (kombu has no Redis Cluster support)
        transport_options["master_name"] = settings.sentinel.master
    return dict(
        broker_url=settings.broker_url,
        broker_transport=broker_transport(settings),
        broker_transport_options=transport_options,
        result_backend_transport_options={"visibility_timeout": VISIBILITY_TIMEOUT_SECONDS},
        visibility_timeout=VISIBILITY_TIMEOUT_SECONDS,
        broker_connection_retry_on_startup=True,
        broker_connection_timeout=3,
        task_serializer="json",
        accept_content=["json"],
        result_serializer="json",
        task_ignore_result=True,  # results live in sync_jobs, never in a result backend
        task_acks_late=True,  # a worker killed mid-step leaves the message to run again
        task_reject_on_worker_lost=True,  # ... even when only the child process dies; steps are idempotent
        worker_prefetch_multiplier=1,  # slow API calls: take one message at a time
        worker_max_memory_per_child=MAX_MEMORY_PER_CHILD_KIB,
        worker_hijack_root_logger=False,
        worker_send_task_events=True,  # Flower
        task_send_sent_event=False,  # a second publish per enqueue; Flower still sees received/started/...
        task_default_queue=INTAKE_QUEUE,
        task_queues=declared_queues(),
        task_create_missing_queues=True,  # tenant.<name> queues
        task_routes=(route_task,),
        timezone="UTC",
        enable_utc=True,
        beat_schedule={
            "schedule-polls": {"task": "possync.poll.schedule_polls", "schedule": 5.0},
            "sweep": {"task": "possync.sweeper.sweep", "schedule": 60.0},
            "fold-counts": {"task": "possync.retention.fold_counts", "schedule": 15.0},
            "prune": {"task": "possync.retention.prune", "schedule": 3600.0},
        },
    )


def broker_transport(settings: Settings) -> str | None:
    """possync's kombu transport for the Redis URL (one client per channel), or None: kombu's for the URL."""
    if settings.sentinel:
        return "possync.worker.redis_transport:SentinelTransport"
    if settings.redis_url:
        return "possync.worker.redis_transport:Transport"
    return None


def make_celery(settings: Settings | None = None) -> Celery:
    """With no settings, the process's are read when the app is first configured, not at import: a bad
    variable is then the failing command's one-line error, and `possync --help` still works."""
    app = Celery("possync", include=TASK_MODULES)
    if settings is None:
        app.add_defaults(lambda: celery_config(get_settings()))
    else:
        app.conf.update(celery_config(settings))
    return app


def reconfigure(settings: Settings) -> None:
    """Point the process's app at other settings (tests, the demo) and drop pooled broker connections."""
    app.conf.update(celery_config(settings))
    drop_pooled_connections(app)


def drop_pooled_connections(celery: Celery) -> None:
    """Forget `celery`'s pooled broker connections, made again on next use: after a new broker URL, or when
    one of them met a broker restarted since it was opened."""
    celery._pool = None
    celery.amqp._producer_pool = None


app = make_celery()
