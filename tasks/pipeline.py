"""The Celery tasks of a sync: thin wrappers over `tasks.runner.run_steps`.

fetch_customer -> resolve_match -> default_customer_fallback -> upsert_pos_customer -> sync_marketing_consent
A job's message names the step it starts at and carries the job id and its queue (`route`). The
task runs the job's remaining steps one after another, each recorded and committed on its own (the
job row is the chain), and sends the job on again only when a step must wait: a rate limit, a busy
customer lock or a transient error is the waiting step's task, sent again with a countdown. A retried
step therefore continues the chain by construction, without Celery's chain-in-retry machinery.
"""

from __future__ import annotations

from celery import Task

from models.db import get_sessionmaker
from models.tables import SyncJob
from tasks import jobs
from tasks.runner import run_steps
from tasks.step_registry import STEP_FUNCTIONS
from worker.celery_app import app
from worker.settings import get_settings


def run(step: str, job_id: int, route: str | None, held_turn: float | None) -> None:
    outcome = run_steps(job_id, STEP_FUNCTIONS, get_sessionmaker(get_settings().database_url), held_turn=held_turn)
    if outcome.action == "retry":
        # The job row keeps the retry budget (waits for rate limits and locks are free); the message is
        # only the wake-up call, acknowledged once this one is sent. It carries the job's rate-limit turn,
        # so a woken step that is still short is given the next turn rather than the last.
        kwargs = {"route": route, "held_turn": outcome.held_turn} if outcome.held_turn else {"route": route}
        TASKS.get(outcome.step, TASKS[step]).apply_async((job_id,), kwargs, countdown=outcome.countdown)


def _step_task(step: str) -> Task:
    """The task that starts (or resumes) a job at `step`; every step's task runs the same way."""

    @app.task(name=f"possync.pipeline.{step}")
    def step_task(job_id: int, route: str | None = None, held_turn: float | None = None) -> None:
        run(step, job_id, route, held_turn)

    return step_task


TASKS: dict[str, Task] = {step: _step_task(step) for steps in jobs.STEPS_BY_DIRECTION.values() for step in steps}


def enqueue_job(job: SyncJob, queue: str) -> None:
    """Send the job to `queue` at its current step (a replay resumes at the failed step)."""
    steps = jobs.remaining_steps(job)
    if steps:
        TASKS[steps[0]].apply_async((job.id,), {"route": queue})
