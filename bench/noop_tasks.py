"""The reference for pipeline throughput: a bare Celery chain of five no-op tasks.

A separate tiny app with possync's own Celery settings (`possync.worker.celery_app.celery_config`: acks_late,
prefetch 1, reject on worker lost, task events, JSON, the same router), on the same Redis server,
run by a worker with the same pool and concurrency. Its chains have the pipeline's shape (five
immutable signatures carrying an id and a `route`). The last task records completion in Redis, the
only work any of them does, so `bench.pipeline` can time the run the way it times sync jobs.

Worker: `python -m celery -A bench.noop_tasks:app worker -Q bench-noop -n noop@%h -E --concurrency N`
with the run's POSSYNC_* environment (its key prefix may differ from possync's: same broker, own keys).
"""

from __future__ import annotations

import functools
import time

import redis
from celery import Celery, chain
from kombu import Exchange, Queue

from possync.worker.celery_app import celery_config
from possync.worker.settings import Settings, get_settings

QUEUE = "bench-noop"
NODE = "noop@%h"
DONE_KEY = "bench-noop:done"  # count of finished chains (under the run's key prefix)
DONE_AT_KEY = "bench-noop:done-at"  # wall-clock time the last one finished

app = Celery("possync-bench-noop")


def configure(settings: Settings) -> None:
    """possync's Celery settings with this app's one queue (again when the process's settings change)."""
    app.conf.update({
        **celery_config(settings),
        "task_default_queue": QUEUE,
        "task_queues": [Queue(QUEUE, Exchange(QUEUE), routing_key=QUEUE)],
        "beat_schedule": {},
    })
    app._pool = None  # pooled broker connections follow the new broker_url
    app.amqp._producer_pool = None
    _redis.cache_clear()


@functools.cache
def _redis() -> redis.Redis:
    return redis.Redis.from_url(get_settings().redis_url or "redis://127.0.0.1:6379/0")


@app.task(name="bench.noop.step")
def step(job_id: int, route: str | None = None) -> int:
    return job_id


@app.task(name="bench.noop.last")
def last(job_id: int, route: str | None = None) -> int:
    prefix = get_settings().redis_key_prefix
    pipe = _redis().pipeline(transaction=False)
    pipe.incr(prefix + DONE_KEY)
    pipe.set(prefix + DONE_AT_KEY, repr(time.time()))
    pipe.execute()
    return job_id


def start_chain(job_id: int) -> None:
    """Five tasks, like a Shopify -> POS sync: four no-ops, then the one that counts."""
    chain(*(step.si(job_id, route=QUEUE) for _ in range(4)), last.si(job_id, route=QUEUE)).apply_async()


configure(get_settings())
