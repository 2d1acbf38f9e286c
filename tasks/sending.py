"""Sending a job to its step's task by the task's name (`possync.tasks.pipeline` defines the tasks).

The tasks run the steps, and the steps sit above intake and polls, which start jobs: naming the task,
rather than importing it, keeps those imports one way.
"""

from __future__ import annotations

from celery.canvas import Signature

from possync.models.tables import SyncJob
from possync.tasks import jobs
from possync.worker.celery_app import app
from possync.worker.dispatcher import send


def task_name(step: str) -> str:
    return f"possync.pipeline.{step}"


def step_task(step: str) -> Signature:
    """The message of the task that starts (or resumes) a job at `step`."""
    return app.signature(task_name(step))


def enqueue_job(job: SyncJob, queue: str) -> None:
    """Send the job to `queue` at its current step (a replay resumes at the failed step), in its tenant's line."""
    steps = jobs.remaining_steps(job)
    if steps:
        tenant = str(job.tenant_id)
        send(step_task(steps[0]), job.id, {"route": queue, "tenant": tenant}, queue=queue, tenant=tenant)
