"""Running a job's steps: load the job once, do each step and record its result, classify any failure.

This is the one place that owns sessions, log context, error classification and the retry policy
(ARCHITECTURE principle 4). It knows nothing of Celery: it returns a `StepOutcome`, and the thin
task in `possync.tasks.pipeline` turns a "retry" into the step's task sent again with a countdown.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, timedelta
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from possync.adapters.errors import AdapterError, AuthenticationError, FatalError, RateLimitedError, RetryableError
from possync.models.tables import InboundEvent, JobStatus, SyncJob, Tenant
from possync.models.tenants import ContextCache, TenantContext, load_context
from possync.tasks import clients, jobs
from possync.worker import metrics
from possync.worker.celery_app import MAX_COUNTDOWN_SECONDS
from possync.worker.locks import LockBusyError
from possync.worker.logging import bind_job, get_logger
from possync.worker.runtime import TRANSIENT_ERRORS
from possync.worker.settings import get_settings

log = get_logger("possync.runner")


@dataclass(frozen=True)
class StepOutcome:
    action: str  # "continue" | "stop" | "retry"
    countdown: float = 0.0
    reason: str = ""
    step: str = ""  # for "retry": the step to run again
    held_turn: float | None = None  # for a limiter wait: the job's turn (epoch s)

    @classmethod
    def cont(cls) -> StepOutcome:
        return cls("continue")

    @classmethod
    def stop(cls, reason: str = "") -> StepOutcome:
        return cls("stop", reason=reason)

    @classmethod
    def retry(cls, countdown: float, reason: str, step: str = "", held_turn: float | None = None) -> StepOutcome:
        return cls("retry", min(max(countdown, 0.05), MAX_COUNTDOWN_SECONDS), reason, step, held_turn)


class StepFinished(Exception):  # noqa: N818 - a control-flow signal, not an error
    """Raised by a step that completes the whole job early (echo, no customer, nothing to do)."""

    def __init__(self, outcome: str, context: dict[str, Any] | None = None) -> None:
        self.outcome = outcome
        self.context = context or {}
        super().__init__(outcome)


class WaitError(Exception):
    """A step must wait `countdown` s for something it knows the end of (not a failure, no attempt charged)."""

    def __init__(self, message: str, countdown: float) -> None:
        super().__init__(message)
        self.countdown = countdown


class WaitForImportError(WaitError):
    """The tenant's POS import is not complete: a create must wait (SPEC rule 34)."""


@dataclass
class StepContext:
    """What the steps of one run share: the session, the job (kept out of the session), the decrypted tenant.

    One per run; `begin` starts each step. Results of read-only steps (`jobs.READ_ONLY_STEPS`) are held
    here until the next commit, with the job's state as of the last recorded step, so a failure in a
    later step can still save them (`save_recorded`) while undoing its own half-made changes.
    """

    session: Session
    job: SyncJob
    tenant: TenantContext
    secret_key: str
    step: str = ""
    started: float = field(default_factory=time.perf_counter)
    continues: bool = False  # this run goes straight on to the next step
    recorded: bool = False
    unsaved: list[jobs.Attempt] = field(default_factory=list)  # recorded, not yet committed
    recorded_state: dict[str, Any] = field(default_factory=dict)  # the job as the last recorded step left it
    held: dict[str, Any] = field(default_factory=dict)  # what the steps read once per run (the tenant's import)

    def begin(self, step: str, *, continues: bool) -> None:
        self.step, self.continues, self.recorded, self.started = step, continues, False, time.perf_counter()

    def record(self, result: dict[str, Any], *, finish: bool = False) -> None:
        """Record this step's result and attempt; the next `commit` saves them.

        The runner does this after the step returns. A step that must commit before it lets go of
        something (the upsert holds customer locks until its link is committed) calls it itself, so its
        result is saved in that commit instead of one more right after.
        """
        jobs.advance(self.job, self.step, result, finish=finish)
        self.unsaved.append(jobs.Attempt(self.step, "ok", latency_ms=_ms(self.started)))
        if self.continues and self.job.status != JobStatus.SUCCEEDED.value:
            self.job.status = JobStatus.RUNNING.value  # this worker goes straight on with the next step
        self.recorded = True
        self.recorded_state = jobs.state_of(self.job)

    def commit(self) -> None:
        """Save the job (it is kept out of the session: `jobs.save`) with the recorded attempts, and commit."""
        succeeded = bool(self.unsaved) and self.job.status == JobStatus.SUCCEEDED.value
        jobs.save(self.session, self.job, self.unsaved, supersede=succeeded)
        self.session.commit()
        self.unsaved = []

    def save_recorded(self) -> None:
        """After a failed step was rolled back: commit what the steps before it recorded, as they left the job."""
        if not self.unsaved:
            return
        jobs.restore(self.job, self.recorded_state)
        try:
            self.commit()
        except Exception:  # the database itself failed: those steps run again, which only repeats reads
            self.session.rollback()
            log.warning("could not save the steps before a failure; they will run again", exc_info=True)


# The job with its tenant's version in one round trip: the tenant's context comes from this process's
# cache while that version holds (`possync.models.tenants.ContextCache`).
_JOB_AND_TENANT_VERSION = (select(SyncJob, Tenant.updated_at).join(Tenant, Tenant.id == SyncJob.tenant_id)
                           .where(SyncJob.id == bindparam("job_id")))
TENANT_CONTEXTS = ContextCache()

StepFunction = Callable[[StepContext], dict[str, Any]]


def backoff(failures: int, cap: float) -> float:
    """Exponential back-off with full jitter: 2, 4, 8 ... seconds, capped."""
    return random.uniform(0.5, 1.0) * min(cap, 2.0 ** max(1, failures))


def _transient(exc: BaseException) -> bool:
    return isinstance(exc, (RetryableError, LockBusyError, *TRANSIENT_ERRORS))


def run_steps(job_id: int, functions: Mapping[str, StepFunction], session_factory: Callable[[], Session], *,
              steps: tuple[str, ...] | None = None, held_turn: float | None = None) -> StepOutcome:
    """Run the job's remaining steps (or only `steps`) back to back; never raises for job failures.

    Each step is still its own unit: it does one thing and records its result and attempt row, and a crash
    resumes at the first step not committed. A step that writes to a vendor is committed before the next
    begins; the read-only steps (fetch, match, fallback) are committed with the next commit, which the
    upsert makes before its first POS write, so a crash before it repeats only reads (a commit and a job
    write fewer per read-only step). What the steps share is the session, the job and the decrypted tenant,
    loaded once, since a hand-over through the broker per step is costly (README). A failing step's half-
    made changes are rolled back, and what the steps before it recorded is committed before the failure is
    handled. The run stops when the job finishes or fails, or when a step must wait; the outcome then names
    the step to run again and, for a rate-limit wait, the job's turn, which the next run passes back as
    `held_turn`.
    """
    settings = get_settings()
    key = settings.require_secret_key()
    session = session_factory()
    step = steps[0] if steps else ""  # known once the job is loaded
    started = time.perf_counter()
    tenant: TenantContext | None = None
    ctx: StepContext | None = None
    try:
        row = session.execute(_JOB_AND_TENANT_VERSION, {"job_id": job_id}).first()
        job, tenant_version = row if row is not None else (None, None)
        if job is None:
            log.warning("job vanished", job_id=job_id, step=step)
            return StepOutcome.stop("no such job")
        session.expunge(job)  # written by `StepContext.commit`, never flushed by the ORM
        if job.status == JobStatus.FAILED.value:
            return StepOutcome.stop("job failed")
        todo = [s for s in (steps or jobs.remaining_steps(job)) if not jobs.is_step_done(job, s)]
        if job.status == JobStatus.SUCCEEDED.value or not todo:
            return StepOutcome.cont()  # a redelivered or replayed message of a step already done
        step = todo[0]
        tenant = TENANT_CONTEXTS.get(session, job.tenant_id, tenant_version, key)
        ctx = StepContext(session=session, job=job, tenant=tenant, secret_key=key)
        with clients.held_turn(held_turn):
            for index, step in enumerate(todo):
                bind_job(tenant=tenant.name, job_id=job.id, step=step, event_id=job.event_id)
                ctx.begin(step, continues=index + 1 < len(todo))
                started = ctx.started
                if not _run_step(ctx, functions[step]):
                    return StepOutcome.stop(job.outcome or "finished")
                if job.status == JobStatus.SUCCEEDED.value:
                    return StepOutcome.stop("succeeded")
        return StepOutcome.cont()
    except Exception as exc:  # classified below; nothing escapes to crash the worker
        session.rollback()
        if ctx is not None:
            ctx.save_recorded()
        if _credentials_rotated_meanwhile(session, tenant, exc, key):
            exc = RetryableError("another worker rotated the POS tokens during this step; retrying with them")
        return _handle_failure(session, job_id, step, exc, started, settings.job_max_attempts,
                               settings.retry_backoff_max_seconds)
    finally:
        session.close()


def _run_step(ctx: StepContext, function: StepFunction) -> bool:
    """One step: do it, record its result and attempt, commit. False when it finished the whole job."""
    try:
        result = function(ctx)
    except StepFinished as finished:
        ctx.job.outcome = finished.outcome
        ctx.record(finished.context, finish=True)
        ctx.commit()
        _count_finished(ctx.session, ctx.job, ctx.tenant)
        log.info("job finished early", outcome=finished.outcome)
        return False
    if not ctx.recorded:
        ctx.record(result)
    # Else the step committed its own record (the upsert, under its locks). A read-only step's record
    # rides with the next commit while the run goes on.
    if ctx.unsaved and (ctx.step not in jobs.READ_ONLY_STEPS or not ctx.continues):
        ctx.commit()
    if ctx.job.status == JobStatus.SUCCEEDED.value:
        _count_finished(ctx.session, ctx.job, ctx.tenant)
    return True


def _handle_failure(session: Session, job_id: int, step: str, exc: Exception, started: float,
                    max_attempts: int, backoff_cap: int) -> StepOutcome:
    job = session.get(SyncJob, job_id)
    status = exc.http_status if isinstance(exc, AdapterError) else None
    if job is None:
        return StepOutcome.stop("no such job")
    step = step or job.step  # the run failed before it knew its first step (loading the job)

    def attempt(outcome: str, error: str) -> jobs.Attempt:
        return jobs.Attempt(step, outcome, latency_ms=_ms(started), http_status=status, error=error)

    if isinstance(exc, RateLimitedError):
        # Waiting is not failing: no attempt is charged against the retry budget.
        jobs.record_attempt(session, job, attempt("rate_limited", str(exc)))
        countdown = exc.countdown(jitter=random.uniform(0, 0.25))
        return _retry_later(session, job, StepOutcome.retry(countdown, str(exc), step, exc.turn_at))
    if isinstance(exc, LockBusyError):
        return _retry_later(session, job, StepOutcome.retry(random.uniform(0.2, 1.0), str(exc), step))
    if isinstance(exc, WaitError):
        return _retry_later(session, job, StepOutcome.retry(exc.countdown, str(exc), step))
    if _transient(exc):
        failures = int(job.context.get("transient_failures", 0)) + 1
        job.context = {**job.context, "transient_failures": failures}
        job.attempts = (job.attempts or 0) + 1
        jobs.record_attempt(session, job, attempt("retry", str(exc)))
        if failures >= max_attempts:
            jobs.fail(job, f"gave up after {failures} attempts: {exc}", type(exc).__name__)
            session.commit()
            log.warning("job failed after retries", error=str(exc))
            return StepOutcome.stop("failed")
        return _retry_later(session, job, StepOutcome.retry(backoff(failures, backoff_cap), str(exc), step))
    reason = str(exc) if isinstance(exc, FatalError | AdapterError) else f"internal error: {type(exc).__name__}: {exc}"
    error_class = getattr(exc, "error_class", None) or type(exc).__name__
    job.attempts = (job.attempts or 0) + 1
    jobs.record_attempt(session, job, attempt("fatal", reason))
    jobs.fail(job, reason, error_class)
    session.commit()
    log.warning("job failed", error=reason, error_class=error_class, exc_info=not isinstance(exc, AdapterError))
    return StepOutcome.stop("failed")


def _credentials_rotated_meanwhile(session: Session, tenant: TenantContext | None, exc: Exception, key: str) -> bool:
    """A 401 / invalid_grant after another worker refreshed the rotating tokens is not a dead credential.

    R-Series and X-Series revoke the old refresh token when a new one is issued; a worker still holding
    the old pair fails. If the stored tokens changed since this step loaded them, try again with them.
    """
    if tenant is None or not isinstance(exc, AuthenticationError):
        return False
    stored = session.get(Tenant, tenant.id)
    return stored is not None and load_context(stored, key).pos_secrets != tenant.pos_secrets


def _retry_later(session: Session, job: SyncJob, outcome: StepOutcome) -> StepOutcome:
    """Back to pending with the time it is due, so the sweeper leaves it alone until then."""
    job.status = JobStatus.PENDING.value
    job.next_run_at = jobs.now() + timedelta(seconds=outcome.countdown)
    session.commit()
    return outcome


def _count_finished(session: Session, job: SyncJob, tenant: TenantContext) -> None:
    """Metrics of a job that just finished: the sync counter, and webhook -> POS latency."""
    outcome = job.outcome or job.status
    pos = tenant.pos_kind.value if tenant.has_pos else "none"
    metrics.SYNCS.labels(tenant=tenant.name, pos=pos, outcome=outcome).inc()
    if job.status == JobStatus.SUCCEEDED.value and job.event_id and job.direction == "shopify_to_pos":
        # Only the time: the event row holds the delivery's whole body, which this has no use for.
        received = session.scalar(select(InboundEvent.received_at).where(InboundEvent.id == job.event_id))
        if received is not None:
            received = received if received.tzinfo else received.replace(tzinfo=UTC)
            metrics.WEBHOOK_TO_POS_SECONDS.labels(pos=tenant.pos_kind.value).observe(
                (jobs.now() - received).total_seconds())


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000.0, 2)
