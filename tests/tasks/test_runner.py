"""The step runner's failure policy, driven with plain step functions against a real database."""

from __future__ import annotations

import pytest
import sqlalchemy.exc
from sqlalchemy import select

from possync.adapters.errors import AuthenticationError, BudgetWaitError, FatalError, RateLimitedError, RetryableError
from possync.models.db import get_sessionmaker
from possync.models.tables import JobStatus, SyncAttempt, SyncJob
from possync.models.tenant_file import validate_tenant_data
from possync.models.tenants import apply_tenant, save_pos_secrets
from possync.tasks import clients, jobs, runner
from possync.tasks.runner import StepContext, StepFinished, run_steps

TENANT = {"name": "acme", "account_name": "acmestore",
          "shopify": {"shop_domain": "acme.myshopify.com", "access_token": "t", "client_secret": "s"},
          "pos": {"kind": "lightspeed-r", "account_id": "1", "access_token": "old-access", "refresh_token": "old",
                  "client_id": "c", "client_secret": "cs"}}


@pytest.fixture
def job_id(session, secret_key: str, activate_env, db_url: str) -> int:  # type: ignore[no-untyped-def]
    activate_env(POSSYNC_DATABASE_URL=db_url, POSSYNC_JOB_MAX_ATTEMPTS="3")
    tenant, _ = apply_tenant(session, validate_tenant_data(TENANT), secret_key)
    job = jobs.new_job(session, tenant_id=tenant.id)
    session.commit()
    return job.id


def run(db_url: str, job_id: int, function) -> object:  # type: ignore[no-untyped-def]
    return run_steps(job_id, {"fetch_customer": function}, get_sessionmaker(db_url), steps=("fetch_customer",))


def job(session, job_id: int) -> SyncJob:  # type: ignore[no-untyped-def]
    session.expire_all()
    return session.get_one(SyncJob, job_id)


def test_success_advances_to_the_next_step(session, db_url: str, job_id: int) -> None:  # type: ignore[no-untyped-def]
    outcome = run(db_url, job_id, lambda ctx: {"found": 1})
    assert outcome.action == "continue"
    assert job(session, job_id).step == "resolve_match" and job(session, job_id).context["found"] == 1


def test_a_fatal_error_fails_the_job_with_its_reason(session, db_url: str, job_id: int) -> None:  # type: ignore[no-untyped-def]
    def step(ctx: StepContext) -> dict:
        raise FatalError("the record failed validation", vendor="heartland", endpoint="POST /api/customers")

    assert run(db_url, job_id, step).action == "stop"
    failed = job(session, job_id)
    assert failed.status == JobStatus.FAILED.value and "heartland POST /api/customers" in failed.last_error


def test_waiting_does_not_use_the_retry_budget(session, db_url: str, job_id: int) -> None:  # type: ignore[no-untyped-def]
    def step(ctx: StepContext) -> dict:
        raise RateLimitedError("slow down", retry_after=2.0)

    for _ in range(5):
        outcome = run(db_url, job_id, step)
        assert outcome.action == "retry" and 2.0 <= outcome.countdown <= 2.5
    assert job(session, job_id).attempts == 0 and job(session, job_id).status == JobStatus.PENDING.value


def test_waiting_for_the_pos_import_is_neither_an_attempt_nor_a_failure(session, db_url: str, job_id: int) -> None:  # type: ignore[no-untyped-def]
    def step(ctx: StepContext) -> dict:
        raise runner.WaitForImportError("waiting for the POS import of this tenant", countdown=7.0)

    for _ in range(10):
        outcome = run(db_url, job_id, step)
        assert outcome.action == "retry" and outcome.countdown == 7.0 and outcome.step == "fetch_customer"
    waiting = job(session, job_id)
    assert waiting.attempts == 0 and waiting.status == JobStatus.PENDING.value and waiting.next_run_at is not None
    assert _attempts(session, job_id) == []


def test_transient_errors_fail_the_job_after_the_last_attempt(session, db_url: str, job_id: int) -> None:  # type: ignore[no-untyped-def]
    def step(ctx: StepContext) -> dict:
        raise RetryableError("503 from the vendor")

    assert [run(db_url, job_id, step).action for _ in range(3)] == ["retry", "retry", "stop"]
    failed = job(session, job_id)
    assert failed.status == JobStatus.FAILED.value and "gave up after 3 attempts" in failed.last_error


def test_an_unexpected_exception_fails_the_job_instead_of_crashing(session, db_url: str, job_id: int) -> None:  # type: ignore[no-untyped-def]
    def step(ctx: StepContext) -> dict:
        raise KeyError("surprise")

    assert run(db_url, job_id, step).action == "stop"
    assert "internal error: KeyError" in job(session, job_id).last_error


def test_tokens_rotated_by_another_worker_mean_retry_not_fail(session, db_url: str, job_id: int,  # type: ignore[no-untyped-def]
                                                               secret_key: str) -> None:
    def step(ctx: StepContext) -> dict:
        # Another worker refreshed meanwhile: our refresh token was revoked and the vendor said no.
        save_pos_secrets(ctx.session, ctx.tenant.id, {**ctx.tenant.pos_secrets, "refresh_token": "new"}, secret_key)
        ctx.session.commit()
        raise AuthenticationError("invalid_grant", vendor="lightspeed-r")

    assert run(db_url, job_id, step).action == "retry"
    assert job(session, job_id).status == JobStatus.PENDING.value

    def dead(ctx: StepContext) -> dict:
        raise AuthenticationError("invalid_grant", vendor="lightspeed-r")

    assert run(db_url, job_id, dead).action == "stop"  # nothing rotated: the credential really is dead


def _attempts(session, job_id: int) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    session.expire_all()
    rows = session.scalars(select(SyncAttempt).where(SyncAttempt.job_id == job_id)
                           .order_by(SyncAttempt.started_at, SyncAttempt.id))
    return [(row.step, row.outcome) for row in rows]


def test_run_steps_runs_the_remaining_steps_in_order_each_committed(session, db_url: str, job_id: int) -> None:  # type: ignore[no-untyped-def]
    seen: list[tuple[str, list[str]]] = []

    def recorder(name: str):  # type: ignore[no-untyped-def]
        def step(ctx: StepContext) -> dict:
            # What the step sees is what the earlier steps recorded.
            seen.append((name, sorted(ctx.job.context)))
            return {name: True}
        return step

    outcome = run_steps(job_id, {name: recorder(name) for name in jobs.SHOPIFY_TO_POS_STEPS}, get_sessionmaker(db_url))
    assert outcome.action == "stop" and outcome.reason == "succeeded"
    assert [name for name, _ in seen] == list(jobs.SHOPIFY_TO_POS_STEPS)
    assert seen[-1][1] == sorted(jobs.SHOPIFY_TO_POS_STEPS[:-1])
    assert _attempts(session, job_id) == [(name, "ok") for name in jobs.SHOPIFY_TO_POS_STEPS]
    finished = job(session, job_id)
    assert finished.status == JobStatus.SUCCEEDED.value and finished.step == jobs.DONE


def test_a_waiting_step_names_itself_and_the_next_run_resumes_there(session, db_url: str, job_id: int) -> None:  # type: ignore[no-untyped-def]
    calls: list[str] = []
    budget = {"waits": 1}

    def ok(name: str):  # type: ignore[no-untyped-def]
        def step(ctx: StepContext) -> dict:
            calls.append(name)
            return {}
        return step

    def upsert(ctx: StepContext) -> dict:
        calls.append("upsert_pos_customer")
        if budget["waits"]:
            budget["waits"] -= 1
            raise RateLimitedError("slow down", retry_after=1.0)
        return {}

    functions = {name: ok(name) for name in jobs.SHOPIFY_TO_POS_STEPS} | {"upsert_pos_customer": upsert}
    first = run_steps(job_id, functions, get_sessionmaker(db_url))
    assert first.action == "retry" and first.step == "upsert_pos_customer" and 1.0 <= first.countdown <= 1.25
    waiting = job(session, job_id)
    assert waiting.step == "upsert_pos_customer" and waiting.status == JobStatus.PENDING.value
    assert waiting.next_run_at is not None

    second = run_steps(job_id, functions, get_sessionmaker(db_url))
    assert second.reason == "succeeded"
    # The steps before the wait ran once: their results were committed before it.
    assert calls == [*jobs.SHOPIFY_TO_POS_STEPS[:3], "upsert_pos_customer", "upsert_pos_customer",
                     "sync_marketing_consent"]


def test_a_step_that_finishes_the_job_early_stops_the_run(session, db_url: str, job_id: int) -> None:  # type: ignore[no-untyped-def]
    def echo(ctx: StepContext) -> dict:
        raise StepFinished("echo")

    def never(ctx: StepContext) -> dict:
        raise AssertionError("a finished job ran on")

    functions = {name: never for name in jobs.SHOPIFY_TO_POS_STEPS} | {"fetch_customer": echo}
    assert run_steps(job_id, functions, get_sessionmaker(db_url)).reason == "echo"
    finished = job(session, job_id)
    assert finished.status == JobStatus.SUCCEEDED.value and finished.outcome == "echo"
    assert run_steps(job_id, functions, get_sessionmaker(db_url)).action == "continue"  # a redelivery: nothing


def test_a_rate_limit_turn_goes_back_to_the_step_that_waited(db_url: str, job_id: int) -> None:  # type: ignore[no-untyped-def]
    seen: list[float | None] = []

    def step(ctx: StepContext) -> dict:
        seen.append(clients._held_turn.get())
        if len(seen) == 1:
            raise BudgetWaitError(1.0, turn_at=1234.5)
        return {}

    first = run_steps(job_id, {"fetch_customer": step}, get_sessionmaker(db_url), steps=("fetch_customer",))
    assert first.action == "retry" and first.held_turn == 1234.5 and first.countdown == 1.0  # a turn: no jitter
    second = run_steps(job_id, {"fetch_customer": step}, get_sessionmaker(db_url), steps=("fetch_customer",),
                       held_turn=first.held_turn)
    assert second.action == "continue" and seen == [None, 1234.5]


def test_a_failure_while_loading_retries_at_the_jobs_own_step(db_url: str, job_id: int,  # type: ignore[no-untyped-def]
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    def database_gone(*_args: object) -> None:
        raise sqlalchemy.exc.OperationalError("SELECT tenants", {}, Exception("server closed the connection"))

    monkeypatch.setattr(runner.TENANT_CONTEXTS, "get", database_gone)
    outcome = run_steps(job_id, {}, get_sessionmaker(db_url))
    assert outcome.action == "retry" and outcome.step == "fetch_customer"  # a step the pipeline can send


def _steps_returning_their_names(calls: list[str] | None = None) -> dict:  # type: ignore[type-arg]
    def named(name: str):  # type: ignore[no-untyped-def]
        def step(ctx: StepContext) -> dict:
            if calls is not None:
                calls.append(name)
            return {name: True}
        return step
    return {name: named(name) for name in jobs.SHOPIFY_TO_POS_STEPS}


def test_read_only_steps_ride_with_the_next_commit(session, db_url: str, job_id: int) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import event

    from possync.models.db import get_engine

    commits: list[int] = []
    engine = get_engine(db_url)

    def on_commit(_conn) -> None:  # type: ignore[no-untyped-def]
        commits.append(1)

    event.listen(engine, "commit", on_commit)
    try:
        outcome = run_steps(job_id, _steps_returning_their_names(), get_sessionmaker(db_url))
    finally:
        event.remove(engine, "commit", on_commit)
    assert outcome.reason == "succeeded"
    # fetch, match and fallback are saved with the upsert's commit; the consent step's is the last.
    assert len(commits) == 2
    assert _attempts(session, job_id) == [(name, "ok") for name in jobs.SHOPIFY_TO_POS_STEPS]


def test_a_read_only_step_alone_in_its_run_is_committed(session, db_url: str, job_id: int) -> None:  # type: ignore[no-untyped-def]
    outcome = run_steps(job_id, _steps_returning_their_names(), get_sessionmaker(db_url), steps=("resolve_match",))
    assert outcome.action == "continue"
    assert _attempts(session, job_id) == [("resolve_match", "ok")]


def test_a_failure_after_read_only_steps_keeps_them_and_fails_at_its_own_step(  # type: ignore[no-untyped-def]
        session, db_url: str, job_id: int) -> None:
    def upsert(ctx: StepContext) -> dict:
        ctx.job.subject = "half-made"  # changes of the failing step itself are undone
        ctx.job.context = {**ctx.job.context, "half": True}
        raise FatalError("the record failed validation", vendor="heartland", endpoint="POST /api/customers")

    functions = _steps_returning_their_names() | {"upsert_pos_customer": upsert}
    assert run_steps(job_id, functions, get_sessionmaker(db_url)).reason == "failed"
    assert _attempts(session, job_id) == [*((name, "ok") for name in jobs.SHOPIFY_TO_POS_STEPS[:3]),
                                          ("upsert_pos_customer", "fatal")]
    failed = job(session, job_id)
    # The failed list shows the step that failed, and replay resumes there.
    assert (failed.status, failed.step) == (JobStatus.FAILED.value, "upsert_pos_customer")
    assert failed.subject is None and "half" not in failed.context
    assert set(failed.context) >= set(jobs.SHOPIFY_TO_POS_STEPS[:3])


def test_a_transient_failure_after_read_only_steps_retries_only_the_failed_step(  # type: ignore[no-untyped-def]
        session, db_url: str, job_id: int) -> None:
    calls: list[str] = []
    budget = {"failures": 1}
    functions = _steps_returning_their_names(calls)

    def flaky(ctx: StepContext) -> dict:
        calls.append("default_customer_fallback")
        if budget["failures"]:
            budget["failures"] -= 1
            raise RetryableError("503 from Shopify")
        return {}

    functions["default_customer_fallback"] = flaky
    first = run_steps(job_id, functions, get_sessionmaker(db_url))
    assert first.action == "retry" and first.step == "default_customer_fallback"
    assert job(session, job_id).step == "default_customer_fallback"
    assert run_steps(job_id, functions, get_sessionmaker(db_url)).reason == "succeeded"
    assert calls == ["fetch_customer", "resolve_match", "default_customer_fallback", "default_customer_fallback",
                     "upsert_pos_customer", "sync_marketing_consent"]


def test_a_crash_before_the_next_commit_repeats_only_the_read_only_steps(session, db_url: str, job_id: int) -> None:  # type: ignore[no-untyped-def]
    calls: list[str] = []
    functions = _steps_returning_their_names(calls)

    def killed(ctx: StepContext) -> dict:
        raise SystemExit("worker killed")  # not handled by the runner: nothing more is written

    with pytest.raises(SystemExit):
        run_steps(job_id, functions | {"upsert_pos_customer": killed}, get_sessionmaker(db_url))
    assert job(session, job_id).step == "fetch_customer" and _attempts(session, job_id) == []
    assert run_steps(job_id, functions, get_sessionmaker(db_url)).reason == "succeeded"
    assert calls == [*jobs.SHOPIFY_TO_POS_STEPS[:3], *jobs.SHOPIFY_TO_POS_STEPS]


def test_a_finished_sync_observes_the_time_since_its_webhook_arrived(session, db_url: str, job_id: int) -> None:  # type: ignore[no-untyped-def]
    from datetime import UTC, datetime, timedelta

    from possync.models.tables import InboundEvent
    from possync.worker import metrics

    stored = job(session, job_id)
    event = InboundEvent(tenant_id=stored.tenant_id, webhook_id="w-1", topic="orders/create", body=b"{}",
                         received_at=datetime.now(UTC) - timedelta(seconds=3))
    session.add(event)
    session.flush()
    stored.event_id = event.id
    session.commit()

    def observed() -> tuple[float, float]:
        samples = {s.name: s.value for s in metrics.WEBHOOK_TO_POS_SECONDS.collect()[0].samples
                   if s.labels.get("pos") == "lightspeed-r" and s.name.endswith(("_count", "_sum"))}
        return samples.get("possync_webhook_to_pos_seconds_count", 0.0), samples.get(
            "possync_webhook_to_pos_seconds_sum", 0.0)

    count, total = observed()
    assert run_steps(job_id, _steps_returning_their_names(), get_sessionmaker(db_url)).reason == "succeeded"
    after_count, after_total = observed()
    assert after_count == count + 1 and 3.0 <= after_total - total < 60.0


def test_the_tenant_context_is_reused_until_the_tenant_row_changes(session, db_url: str, job_id: int,  # type: ignore[no-untyped-def]
                                                                   secret_key: str) -> None:
    from sqlalchemy import event

    from possync.models.db import get_engine

    seen: list[dict[str, str]] = []
    tenant_reads: list[str] = []

    def step(ctx: StepContext) -> dict:
        seen.append(dict(ctx.tenant.pos_secrets))
        return {}

    def on_execute(_conn, _cursor, statement, *_rest) -> None:  # type: ignore[no-untyped-def]
        if statement.lstrip().upper().startswith("SELECT TENANTS."):
            tenant_reads.append(statement)

    engine = get_engine(db_url)
    event.listen(engine, "before_cursor_execute", on_execute)
    try:
        for _ in range(3):
            run(db_url, job_id, step)
            session.execute(sqlalchemy.update(SyncJob).where(SyncJob.id == job_id).values(step="fetch_customer"))
            session.commit()
        assert len(tenant_reads) == 1  # read by the first run only
        # Another worker rotates the tokens: the row changes, and the next run reads it again.
        save_pos_secrets(session, job(session, job_id).tenant_id, {**seen[-1], "access_token": "rotated"}, secret_key)
        session.commit()
        tenant_reads.clear()
        run(db_url, job_id, step)
    finally:
        event.remove(engine, "before_cursor_execute", on_execute)
    assert len(tenant_reads) == 1
    assert [s["access_token"] for s in seen] == ["old-access"] * 3 + ["rotated"]
