"""Engines: the documented URLs connect; an idle connection is pinged before use, one used a moment ago is not."""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml
from sqlalchemy import Engine, make_url

from possync.models import db
from possync.worker.settings import load_settings


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


REPO = Path(__file__).resolve().parents[2]
PLACEHOLDER = re.compile(r"\$\{(?P<name>\w+)(?::?(?P<kind>[-?])(?P<rest>[^}]*))?\}")


def _env_example() -> dict[str, str]:
    """.env.example as an operator fills it in: its placeholder secrets (refused at start) made real."""
    lines = (REPO / ".env.example").read_text().splitlines()
    values = dict(line.split("=", 1) for line in lines if "=" in line and not line.startswith("#"))
    return {k: "f1lled-1n-by-the-operator" if v.startswith(("change-me", "replace-with")) else v
            for k, v in values.items()}


def _substitute(value: str, env: dict[str, str]) -> str:
    """Compose's `${VAR}`, `${VAR:-default}` and `${VAR:?message}`, filled from .env.example."""
    def one(match: re.Match[str]) -> str:
        if match["name"] in env:
            return env[match["name"]]
        assert match["kind"] == "-", f"{match[0]} has no value in .env.example"
        return match["rest"]

    return PLACEHOLDER.sub(one, value)


def _documented_database_urls() -> list[tuple[str, str]]:
    """Every POSSYNC_DATABASE_URL value written in docker-compose.yml and the deploy/ manifests, once each."""
    found: list[tuple[str, str]] = []

    def walk(node: object, where: str) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "POSSYNC_DATABASE_URL" and isinstance(value, str) and (where, value) not in found:
                    found.append((where, value))  # compose repeats its anchor's value in every service
                walk(value, where)
        elif isinstance(node, list):
            for item in node:
                walk(item, where)

    for path in [REPO / "docker-compose.yml", *sorted((REPO / "deploy").rglob("*.yaml"))]:
        for document in yaml.safe_load_all(path.read_text()):
            walk(document, str(path.relative_to(REPO)))
    return found


DOCUMENTED_URLS = _documented_database_urls()


def test_the_compose_and_kubernetes_database_urls_are_found() -> None:
    assert {where for where, _ in DOCUMENTED_URLS} >= {
        "docker-compose.yml", "deploy/k8s/templates/secret.yaml"}


@pytest.mark.parametrize(("where", "written"), DOCUMENTED_URLS, ids=[where for where, _ in DOCUMENTED_URLS])
def test_a_documented_database_url_builds_an_engine_that_connects(where: str, written: str, pg_url: str) -> None:
    """The URLs users copy, as written: the driver SQLAlchemy picks for them is installed and connects."""
    filled = written.replace("REPLACE_ME", "f1lled-1n-by-the-operator")  # as the Secret's comment asks
    url = load_settings({"POSSYNC_DATABASE_URL": _substitute(filled, _env_example())}).database_url
    assert (make_url(url).get_backend_name(), make_url(url).get_driver_name()) == ("postgresql", "psycopg")
    importlib.import_module(make_url(url).get_dialect().driver)
    # The same URL with this machine's server in place of the deployment's host and credentials.
    local = make_url(pg_url).render_as_string(hide_password=False)
    here = make_url(url).set(host="127.0.0.1", port=5432, username="postgres", password=None,
                             database=make_url(local).database).render_as_string(hide_password=False)
    engine = db.get_engine.__wrapped__(here)
    try:
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT 1")).scalar_one() == 1
    finally:
        engine.dispose()


CUSTOMER_VALUES = {"name": "Jane Quincy Customer", "street": "150 Elgin Street"}


@pytest.mark.parametrize("backend", ["postgresql", "sqlite"])
def test_a_failing_statements_customer_values_reach_neither_last_error_nor_the_logs(
        backend: str, db_url: str, sqlite_url: str, secret_key: str, activate_env, capsys) -> None:  # type: ignore[no-untyped-def]
    """The runner keeps `str(exc)` of an unexpected error in `last_error` and logs it with its traceback;
    without `hide_parameters` SQLAlchemy puts the statement's bound values in that text."""
    import logging

    from possync.models.tables import SyncAttempt, SyncJob
    from possync.models.tenant_file import validate_tenant_data
    from possync.models.tenants import apply_tenant
    from possync.tasks import jobs
    from possync.tasks.runner import run_steps
    from possync.worker.logging import configure_logging

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
