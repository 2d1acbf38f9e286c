"""Sync jobs as data: creating them, moving them through the steps, failing and replaying them.

A job row is the single source of truth for where a sync is (ARCHITECTURE principle 2); Celery
messages only carry its id. Every transition here is a plain function on a session, so the
failed list, replay and status are queries.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Executable, Insert, Update, bindparam, insert, select, update
from sqlalchemy.orm import Session

from possync.models.tables import JobStatus, SyncAttempt, SyncJob

SHOPIFY_TO_POS_STEPS = (
    "fetch_customer",
    "resolve_match",
    "default_customer_fallback",
    "upsert_pos_customer",
    "sync_marketing_consent",
)
POS_TO_SHOPIFY_STEPS = ("push_to_shopify",)
# The CRM destination (tasks/crm.py; SPEC section 10).
SHOPIFY_TO_CRM_STEPS = ("crm_fetch_customer", "crm_upsert_contact")
STEPS_BY_DIRECTION = {"shopify_to_pos": SHOPIFY_TO_POS_STEPS, "pos_to_shopify": POS_TO_SHOPIFY_STEPS,
                      "shopify_to_crm": SHOPIFY_TO_CRM_STEPS}
DONE = "done"


def now() -> datetime:
    return datetime.now(UTC)


def steps_of(job: SyncJob) -> tuple[str, ...]:
    return STEPS_BY_DIRECTION[job.direction]


def remaining_steps(job: SyncJob) -> tuple[str, ...]:
    steps = steps_of(job)
    return () if job.step == DONE else steps[steps.index(job.step):]


def new_job(
    session: Session,
    *,
    tenant_id: int,
    direction: str = "shopify_to_pos",
    subject: str | None = None,
    event_id: int | None = None,
    context: dict[str, Any] | None = None,
) -> SyncJob:
    job = SyncJob(
        tenant_id=tenant_id,
        event_id=event_id,
        direction=direction,
        subject=subject,
        step=STEPS_BY_DIRECTION[direction][0],
        status=JobStatus.PENDING.value,
        context=context or {},
    )
    session.add(job)
    session.flush()
    return job


def is_step_done(job: SyncJob, step: str) -> bool:
    """True when the job is already past `step` (a redelivered or replayed message: do nothing)."""
    if job.step == DONE:
        return True
    steps = steps_of(job)
    return steps.index(job.step) > steps.index(step)


def advance(job: SyncJob, step: str, context: dict[str, Any], *, finish: bool = False) -> None:
    """Record a step's result and move to the next step (or finish the job)."""
    job.context = {**job.context, **context}
    steps = steps_of(job)
    index = steps.index(step)
    if finish or index == len(steps) - 1:
        job.step = DONE
        job.status = JobStatus.SUCCEEDED.value
        job.finished_at = now()
        job.last_error = None
        job.last_error_class = None
    else:
        job.step = steps[index + 1]
        job.status = JobStatus.PENDING.value


def record_attempt(session: Session, job: SyncJob, attempt: Attempt) -> None:
    """Add one attempt row through the ORM (the failure path, which holds its job in the session)."""
    session.add(SyncAttempt(job_id=job.id, **{column: getattr(attempt, column) for column in _ATTEMPT_COLUMNS}))


def fail(job: SyncJob, error: str, error_class: str) -> None:
    job.status = JobStatus.FAILED.value
    job.last_error = error[:2000]
    job.last_error_class = error_class
    job.finished_at = now()


@dataclass(frozen=True)
class Attempt:
    """One try of one step, as `save` writes it to `sync_attempts`."""

    step: str
    outcome: str  # ok / retry / rate_limited / fatal
    latency_ms: float | None = None
    http_status: int | None = None
    error: str | None = None
    # When the step ended. Attempts saved together are inserted in no particular order (one statement),
    # so readers order a job's attempts by this time, then id.
    started_at: datetime = field(default_factory=now)


# The fields of `Attempt`, which are the columns of its `sync_attempts` row.
_ATTEMPT_COLUMNS = ("step", "outcome", "latency_ms", "http_status", "error", "started_at")

# Steps that change nothing outside possync's own database: their results may ride with the next commit
# (at the latest the one made before the upsert's first POS write), since a crash before it only
# repeats reads. The runner commits every other step's result before the next step begins.
READ_ONLY_STEPS = frozenset({"fetch_customer", "resolve_match", "default_customer_fallback", "crm_fetch_customer"})

# What a running job changes: `save` writes all of these from the object, so no ORM history is needed.
_MUTABLE = ("subject", "step", "status", "attempts", "next_run_at", "last_error", "last_error_class", "ambiguous",
            "outcome", "context", "finished_at")


def state_of(job: SyncJob) -> dict[str, Any]:
    """The job's changeable state, to put back with `restore` (a failed step's half-made changes undone)."""
    return {name: getattr(job, name) for name in _MUTABLE}


def restore(job: SyncJob, state: dict[str, Any]) -> None:
    for name, value in state.items():
        setattr(job, name, value)


def save(session: Session, job: SyncJob, attempts: Sequence[Attempt] = (), *, supersede: bool = False) -> None:
    """Write a running job's state, its new attempt rows and, optionally, its supersede, in the open transaction.

    The runner keeps its job out of the session (`run_steps` expunges it) and saves it here: through the
    ORM, the job's UPDATE, the attempt's INSERT ... RETURNING and their unit of work cost twice the CPU
    of one prebuilt statement. On PostgreSQL all the writes are one statement (data-modifying CTEs);
    elsewhere (SQLite, the demo) they run one after the other. The caller commits.
    """
    # Bind names differ from column names: SQLAlchemy reserves those for its own SET / VALUES parameters.
    values = state_of(job)
    values.update(id=job.id, updated_at=now(), ambiguous=bool(job.ambiguous), attempts=job.attempts or 0,
                  context=job.context or {})
    for index, attempt in enumerate(attempts):
        values.update({f"a{index}_{column}": getattr(attempt, column) for column in _ATTEMPT_COLUMNS})
    supersede = supersede and bool(job.subject)
    if supersede:
        values.update(tenant_id=job.tenant_id, direction=job.direction)
    params = {f"p_{name}": value for name, value in values.items()}
    connection = session.connection()
    for statement in _save_statements(connection.dialect.name, len(attempts), supersede):
        connection.execute(statement, params)


_JOBS = SyncJob.__table__
_ATTEMPTS = SyncAttempt.__table__


@functools.cache
def _save_statements(dialect: str, attempt_count: int, supersede: bool) -> tuple[Executable, ...]:
    """Built once per shape and reused: building a statement per call cost as much as running it."""
    job_update = (update(_JOBS).where(_JOBS.c.id == bindparam("p_id"))
                  .values({name: bindparam(f"p_{name}") for name in (*_MUTABLE, "updated_at")}))
    # One single-row INSERT per attempt: SQLAlchemy cannot cache the compiled form of a multi-row VALUES,
    # and compiling it anew for every save cost more than all the step's other SQL.
    others: list[Insert | Update] = [insert(_ATTEMPTS).values(job_id=bindparam("p_id"),
                                       **{column: bindparam(f"p_a{index}_{column}") for column in _ATTEMPT_COLUMNS})
              for index in range(attempt_count)]
    if supersede:
        # A later successful sync of the same customer resolves its earlier failures (e.g. Heartland rule 22).
        others.append(
            update(_JOBS)
            .where(
                _JOBS.c.tenant_id == bindparam("p_tenant_id"),
                _JOBS.c.subject == bindparam("p_subject"),
                _JOBS.c.direction == bindparam("p_direction"),
                _JOBS.c.status == JobStatus.FAILED.value,
                _JOBS.c.id < bindparam("p_id"),
            )
            .values(status=JobStatus.SUCCEEDED.value, outcome="superseded", step=DONE))
    if dialect != "postgresql":
        return (job_update, *others)
    for index, other in enumerate(others):
        job_update = job_update.add_cte(other.cte(f"write_{index}"))
    return (job_update,)


def failed_jobs(session: Session, tenant_id: int | None = None) -> list[SyncJob]:
    query = select(SyncJob).where(SyncJob.status == JobStatus.FAILED.value).order_by(SyncJob.id)
    if tenant_id is not None:
        query = query.where(SyncJob.tenant_id == tenant_id)
    return list(session.scalars(query))


# Failures caused by the customer's data, not by the call: a replay must read the (since fixed) data again.
DATA_ERROR_CLASSES = frozenset({"missing_fields"})


def prepare_replay(job: SyncJob) -> bool:
    """Put a failed job back to pending at its failed step; False when there is nothing to replay.

    A failure of the data itself (Heartland's missing address) restarts at the first step, so the
    replay works on what the merchant has since fixed in Shopify rather than on the stored snapshot.
    """
    if job.status != JobStatus.FAILED.value:
        return False
    if job.last_error_class in DATA_ERROR_CLASSES:
        job.step = steps_of(job)[0]
    job.status = JobStatus.PENDING.value
    job.context = {**job.context, "transient_failures": 0}
    job.finished_at = None
    return True
