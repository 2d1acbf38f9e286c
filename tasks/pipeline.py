"""The Celery tasks of a sync: thin wrappers over `possync.tasks.runner.run_steps`.

fetch_customer -> resolve_match -> default_customer_fallback -> upsert_pos_customer -> sync_marketing_consent
A job's message names the step it starts at and carries the job id and its queue (`route`). The
task runs the job's remaining steps one after another, each recorded and committed on its own (the
job row is the chain), and sends the job on again only when a step must wait: a rate limit, a busy
customer lock or a transient error is the waiting step's task, sent again with a countdown. A retried
step therefore continues the chain by construction, without Celery's chain-in-retry machinery.

Messages go through the fair lines of `possync.worker.dispatcher` (one per queue and tenant; waits in Redis,
not in a worker's memory): a message carries its tenant's line (`tenant`) and, once dispatched, its
`ticket`, renewed while the steps run and handed on with the job.
"""

from __future__ import annotations

from celery import Task

from possync.models.db import get_sessionmaker
from possync.tasks import jobs
from possync.tasks.runner import StepOutcome, run_steps
from possync.tasks.sending import task_name
from possync.tasks.step_registry import STEP_FUNCTIONS
from possync.worker.celery_app import app
from possync.worker.dispatcher import finish, send
from possync.worker.fairqueue import RENEW_EVERY_SECONDS
from possync.worker.heartbeat import heartbeat
from possync.worker.logging import get_logger
from possync.worker.runtime import fair_queues
from possync.worker.settings import get_settings

log = get_logger("possync.pipeline")


def run(step: str, job_id: int, route: str | None, held_turn: float | None, tenant: str | None = None,
        ticket: str | None = None) -> None:
    fair = fair_queues() if ticket and route else None
    if fair is None or route is None or ticket is None:  # sent straight to the broker (embedded mode)
        outcome = _run_steps(job_id, held_turn)
        if outcome.action == "retry":
            _send_again(step, job_id, route, tenant, None, outcome)
        return
    if not fair.claim(route, ticket):
        log.info("stale message dropped: its job was sent again after its lease lapsed", job_id=job_id)
        return
    with heartbeat(lambda: fair.claim(route, ticket), RENEW_EVERY_SECONDS, "job ticket"):
        outcome = _run_steps(job_id, held_turn)
    if outcome.action == "retry":  # either call also gives this message's place to the next tenant's turn
        _send_again(step, job_id, route, tenant, ticket, outcome)
    else:
        finish(route, ticket, fair)


def _run_steps(job_id: int, held_turn: float | None) -> StepOutcome:
    return run_steps(job_id, STEP_FUNCTIONS, get_sessionmaker(get_settings().database_url), held_turn=held_turn)


def _send_again(step: str, job_id: int, route: str | None, tenant: str | None, ticket: str | None,
                outcome: StepOutcome) -> None:
    """The job row keeps the retry budget (waits for rate limits and locks are free); the message is
    only the wake-up call, acknowledged once this one is stored. It carries the job's rate-limit turn,
    so a woken step that is still short is given the next turn rather than the last."""
    kwargs: dict[str, object] = {"route": route}
    if tenant is not None:
        kwargs["tenant"] = tenant
    if outcome.held_turn:
        kwargs["held_turn"] = outcome.held_turn
    send(TASKS.get(outcome.step, TASKS[step]), job_id, kwargs, queue=route, tenant=tenant,
         countdown=outcome.countdown, done_ticket=ticket)


def _step_task(step: str) -> Task:
    """The task that starts (or resumes) a job at `step`; every step's task runs the same way."""

    @app.task(name=task_name(step))
    def step_task(job_id: int, route: str | None = None, held_turn: float | None = None, tenant: str | None = None,
                  ticket: str | None = None) -> None:
        run(step, job_id, route, held_turn, tenant, ticket)

    return step_task


TASKS: dict[str, Task] = {step: _step_task(step) for steps in jobs.STEPS_BY_DIRECTION.values() for step in steps}

