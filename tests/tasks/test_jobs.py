"""Saving a running job (`jobs.save`) on PostgreSQL and on SQLite (the embedded demo)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from possync.models.db import get_engine, get_sessionmaker
from possync.models.tables import JobStatus, SyncAttempt, SyncJob, Tenant
from possync.tasks import jobs


@pytest.fixture(params=["postgresql", "sqlite"])
def any_url(request: pytest.FixtureRequest) -> str:
    return str(request.getfixturevalue("db_url" if request.param == "postgresql" else "sqlite_url"))


@pytest.fixture
def statements(any_url: str) -> Iterator[list[str]]:
    seen: list[str] = []

    def on_execute(_conn, _cursor, statement, *_rest) -> None:  # type: ignore[no-untyped-def]
        seen.append(statement)

    engine = get_engine(any_url)
    event.listen(engine, "before_cursor_execute", on_execute)
    yield seen
    event.remove(engine, "before_cursor_execute", on_execute)


def _tenant(session: Session) -> int:
    tenant = Tenant(name="acme", account_name="acme", shop_domain="acme.myshopify.com", pos_kind="heartland",
                    shopify_secrets="x", pos_secrets="x")
    session.add(tenant)
    session.flush()
    return tenant.id


def _running(session: Session, tenant_id: int, subject: str = "42") -> SyncJob:
    """A job as `run_steps` holds it: loaded, then kept out of the session."""
    job = jobs.new_job(session, tenant_id=tenant_id, subject=subject, context={"topic": "orders/create"})
    session.commit()
    session.expunge(job)
    return job


def test_save_writes_the_job_and_its_attempt(any_url: str, statements: list[str]) -> None:
    with get_sessionmaker(any_url)() as session:
        job = _running(session, _tenant(session))
        jobs.advance(job, "fetch_customer", {"shopify_customer": {"id": "42"}})
        job.subject, job.ambiguous = "42", True
        statements.clear()
        jobs.save(session, job, [jobs.Attempt("fetch_customer", "ok", latency_ms=3.5)])
        session.commit()
        writes = [s for s in statements if s.lstrip().upper().startswith(("UPDATE", "INSERT", "WITH"))]
        # One round trip on PostgreSQL (data-modifying CTE); SQLite has none, so two statements there.
        assert len(writes) == (1 if any_url.startswith("postgresql") else 2)
        session.expire_all()
        stored = session.get_one(SyncJob, job.id)
        assert (stored.step, stored.status, stored.subject, stored.ambiguous) == (
            "resolve_match", JobStatus.PENDING.value, "42", True)
        assert stored.context == {"topic": "orders/create", "shopify_customer": {"id": "42"}}
        attempts = session.scalars(select(SyncAttempt).where(SyncAttempt.job_id == job.id)).all()
        assert [(a.step, a.outcome, a.latency_ms) for a in attempts] == [("fetch_customer", "ok", 3.5)]


def test_save_without_an_attempt_writes_only_the_job(any_url: str) -> None:
    with get_sessionmaker(any_url)() as session:
        job = _running(session, _tenant(session))
        job.context = {**job.context, "create_sent": True}
        jobs.save(session, job)
        session.commit()
        session.expire_all()
        assert session.get_one(SyncJob, job.id).context["create_sent"] is True
        assert session.scalars(select(SyncAttempt)).all() == []


def test_a_successful_save_supersedes_only_older_failures_of_the_same_customer(any_url: str) -> None:
    with get_sessionmaker(any_url)() as session:
        tid = _tenant(session)
        older = jobs.new_job(session, tenant_id=tid, subject="42")
        other_customer = jobs.new_job(session, tenant_id=tid, subject="43")
        other_direction = jobs.new_job(session, tenant_id=tid, subject="42", direction="pos_to_shopify")
        for failed in (older, other_customer, other_direction):
            jobs.fail(failed, "Heartland needs an address", "missing_fields")
        session.commit()
        job = _running(session, tid)
        newer = jobs.new_job(session, tenant_id=tid, subject="42")
        jobs.fail(newer, "later failure", "missing_fields")
        session.commit()
        jobs.advance(job, "sync_marketing_consent", {})
        jobs.save(session, job, [jobs.Attempt("sync_marketing_consent", "ok")], supersede=True)
        session.commit()
        session.expire_all()
        outcome = {j.id: (j.status, j.outcome) for j in session.scalars(select(SyncJob))}
        assert outcome[older.id] == (JobStatus.SUCCEEDED.value, "superseded")
        assert outcome[job.id] == (JobStatus.SUCCEEDED.value, None)
        for untouched in (other_customer, other_direction, newer):
            assert outcome[untouched.id] == (JobStatus.FAILED.value, None)


def test_save_writes_several_attempts_in_the_same_statement(any_url: str, statements: list[str]) -> None:
    with get_sessionmaker(any_url)() as session:
        job = _running(session, _tenant(session))
        for step in jobs.SHOPIFY_TO_POS_STEPS[:3]:
            jobs.advance(job, step, {step: True})
        statements.clear()
        jobs.save(session, job, [jobs.Attempt(step, "ok", latency_ms=float(i))
                                 for i, step in enumerate(jobs.SHOPIFY_TO_POS_STEPS[:3])])
        session.commit()
        writes = [s for s in statements if s.lstrip().upper().startswith(("UPDATE", "INSERT", "WITH"))]
        assert len(writes) == (1 if any_url.startswith("postgresql") else 4)  # SQLite: the job, then each attempt
        session.expire_all()
        assert session.get_one(SyncJob, job.id).step == "upsert_pos_customer"
        attempts = session.scalars(select(SyncAttempt).where(SyncAttempt.job_id == job.id)
                                   .order_by(SyncAttempt.started_at, SyncAttempt.id))
        assert [(a.step, a.latency_ms) for a in attempts] == [
            (step, float(i)) for i, step in enumerate(jobs.SHOPIFY_TO_POS_STEPS[:3])]


@pytest.mark.parametrize("attempt_count", [0, 1, 3])
@pytest.mark.parametrize("supersede", [False, True])
def test_every_shape_of_save_is_compiled_once_and_reused(any_url: str, attempt_count: int, supersede: bool) -> None:
    """Compiling a statement costs more than running it: a shape SQLAlchemy cannot cache would be compiled
    at every save (a multi-row VALUES insert was, a quarter of a sync's step CPU)."""
    from sqlalchemy.engine.default import DefaultExecutionContext

    seen: list[object] = []

    def after(_conn, _cursor, _statement, _params, context, _many) -> None:  # type: ignore[no-untyped-def]
        seen.append(context.cache_hit)

    engine = get_engine(any_url)
    with get_sessionmaker(any_url)() as session:
        job = _running(session, _tenant(session))
        event.listen(engine, "after_cursor_execute", after)
        try:
            for _ in range(2):
                jobs.save(session, job, [jobs.Attempt("fetch_customer", "ok")] * attempt_count, supersede=supersede)
                session.commit()
        finally:
            event.remove(engine, "after_cursor_execute", after)
    assert seen and DefaultExecutionContext.cache_hit not in seen  # the class default: no cache key
    assert seen[len(seen) // 2:] == [seen[-1]] * (len(seen) // 2) and "hit" in str(seen[-1]).lower()
