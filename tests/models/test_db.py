"""Engines: a connection that sat idle is pinged before use, one used a moment ago is not."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine

from models import db


@pytest.fixture
def engine(pg_url: str) -> Iterator[Engine]:
    fresh = db.get_engine.__wrapped__(pg_url)  # not the process's cached engine: this one gets broken
    yield fresh
    fresh.dispose()


def _backend_pid(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.text("SELECT pg_backend_pid()")).scalar_one())


def _terminate(pg_url: str, pid: int) -> None:
    admin = sa.create_engine(pg_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    admin.dispose()


def test_an_idle_connection_lost_meanwhile_is_replaced_without_an_error(
        engine: Engine, pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(db, "PING_AFTER_IDLE_SECONDS", 0.0)  # every checkout counts as idle
    first = _backend_pid(engine)
    _terminate(pg_url, first)  # the server side is gone, as after a database restart
    assert _backend_pid(engine) != first


def test_a_connection_used_a_moment_ago_is_not_pinged(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(db, "PING_AFTER_IDLE_SECONDS", 3600.0)
    pings: list[object] = []
    real_ping = engine.dialect.do_ping
    monkeypatch.setattr(engine.dialect, "do_ping", lambda conn: pings.append(conn) or real_ping(conn))
    first = _backend_pid(engine)  # a new connection: just made, so not pinged either
    for _ in range(5):
        assert _backend_pid(engine) == first
    assert pings == []


def test_a_connection_idle_past_the_limit_is_pinged(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(db, "PING_AFTER_IDLE_SECONDS", 0.0)
    pings: list[object] = []
    real_ping = engine.dialect.do_ping
    monkeypatch.setattr(engine.dialect, "do_ping", lambda conn: pings.append(conn) or real_ping(conn))
    for _ in range(3):
        _backend_pid(engine)
    assert len(pings) == 3  # every checkout, the first included: a fresh connection's age counts too


CUSTOMER_VALUES = {"name": "Jane Quincy Customer", "street": "150 Elgin Street"}


@pytest.mark.parametrize("backend", ["postgresql", "sqlite"])
def test_a_failing_statements_customer_values_reach_neither_last_error_nor_the_logs(
        backend: str, db_url: str, sqlite_url: str, secret_key: str, activate_env, capsys) -> None:  # type: ignore[no-untyped-def]
    """The runner keeps `str(exc)` of an unexpected error in `last_error` and logs it with its traceback;
    without `hide_parameters` SQLAlchemy puts the statement's bound values in that text."""
    import logging

    from models.tables import SyncAttempt, SyncJob
    from models.tenant_file import validate_tenant_data
    from models.tenants import apply_tenant
    from tasks import jobs
    from tasks.runner import run_steps
    from worker.logging import configure_logging

    url = db_url if backend == "postgresql" else sqlite_url
    activate_env(POSSYNC_DATABASE_URL=url)
    session = db.get_sessionmaker(url)()
    tenant, _ = apply_tenant(session, validate_tenant_data({
        "name": "acme", "account_name": "acme",
        "shopify": {"shop_domain": "acme.myshopify.com", "access_token": "t", "client_secret": "s"},
        "pos": {"kind": "heartland", "subdomain": "acme", "access_token": "p"}}), secret_key)
    job_id = jobs.new_job(session, tenant_id=tenant.id).id
    session.commit()
    # A statement that fails on the server with a message of its own that holds no bound value.
    failing = ("SELECT :name, :street, 1/0" if backend == "postgresql"  # DataError: division by zero
               else "INSERT INTO inbound_events (tenant_id, webhook_id, topic) VALUES (NULL, :name, :street)")

    def step(ctx):  # type: ignore[no-untyped-def]
        ctx.session.execute(sa.text(failing), CUSTOMER_VALUES)

    configure_logging("json", logging.INFO)
    run_steps(job_id, {"fetch_customer": step}, db.get_sessionmaker(url), steps=("fetch_customer",))
    logged = capsys.readouterr().err
    job = session.get_one(SyncJob, job_id)
    attempts = session.scalars(sa.select(SyncAttempt.error).where(SyncAttempt.job_id == job_id)).all()
    session.close()
    stored = [job.last_error or "", *[a or "" for a in attempts]]
    assert any("hidden due to hide_parameters" in text for text in stored)  # the failure is recorded
    assert "job failed" in logged
    for value in CUSTOMER_VALUES.values():
        assert all(value not in text for text in stored)
        assert value not in logged
