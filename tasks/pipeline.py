"""The Celery tasks of the sync chain: thin wrappers over `tasks.runner.execute_step`.

fetch_customer -> resolve_match -> default_customer_fallback -> upsert_pos_customer -> sync_marketing_consent
Each task receives the job id (and its queue as `route`), runs one step, and then continues the
chain, stops it (`Ignore`: the job finished early or failed), or retries itself with a countdown.
A retried step keeps its place in the chain: Celery re-sends it with the same chain behind it.
"""

from __future__ import annotations

from celery import Task, chain
from celery.exceptions import Ignore

from models.db import get_sessionmaker
from models.tables import SyncJob
from tasks import jobs
from tasks.runner import execute_step
from tasks.steps import STEP_FUNCTIONS
from worker.celery_app import app
from worker.settings import get_settings


def run(task: Task, step: str, job_id: int) -> int:
    outcome = execute_step(step, job_id, STEP_FUNCTIONS[step], get_sessionmaker(get_settings().database_url))
    if outcome.action == "retry":
        # The job row keeps the retry budget (waits for rate limits and locks are free), so Celery's
        # own count is unlimited: `max_retries=None` on the task, not on `retry()`, where None means
        # "the task's default" (3), and a 4th wait would be dropped with MaxRetriesExceededError.
        raise task.retry(countdown=outcome.countdown)
    if outcome.action == "stop":
        raise Ignore()
    return job_id


@app.task(bind=True, max_retries=None, name="possync.pipeline.fetch_customer")
def fetch_customer(self: Task, job_id: int, route: str | None = None) -> int:
    return run(self, "fetch_customer", job_id)


@app.task(bind=True, max_retries=None, name="possync.pipeline.resolve_match")
def resolve_match(self: Task, job_id: int, route: str | None = None) -> int:
    return run(self, "resolve_match", job_id)


@app.task(bind=True, max_retries=None, name="possync.pipeline.default_customer_fallback")
def default_customer_fallback(self: Task, job_id: int, route: str | None = None) -> int:
    return run(self, "default_customer_fallback", job_id)


@app.task(bind=True, max_retries=None, name="possync.pipeline.upsert_pos_customer")
def upsert_pos_customer(self: Task, job_id: int, route: str | None = None) -> int:
    return run(self, "upsert_pos_customer", job_id)


@app.task(bind=True, max_retries=None, name="possync.pipeline.sync_marketing_consent")
def sync_marketing_consent(self: Task, job_id: int, route: str | None = None) -> int:
    return run(self, "sync_marketing_consent", job_id)


@app.task(bind=True, max_retries=None, name="possync.pipeline.push_to_shopify")
def push_to_shopify(self: Task, job_id: int, route: str | None = None) -> int:
    return run(self, "push_to_shopify", job_id)


TASKS = {
    "fetch_customer": fetch_customer,
    "resolve_match": resolve_match,
    "default_customer_fallback": default_customer_fallback,
    "upsert_pos_customer": upsert_pos_customer,
    "sync_marketing_consent": sync_marketing_consent,
    "push_to_shopify": push_to_shopify,
}


def start_chain(job: SyncJob, queue: str) -> None:
    """Enqueue the job's remaining steps as one chain on `queue` (a replay resumes at the failed step)."""
    steps = jobs.remaining_steps(job)
    if not steps:
        return
    chain(*(TASKS[step].si(job.id, route=queue) for step in steps)).apply_async()
