"""`possync worker`: the queues and process count it hands to Celery."""

from __future__ import annotations

import os

import pytest
from click.testing import CliRunner

from worker.celery_app import app
from worker.cli.run import worker


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch, activate_env, redis_server_url: str) -> list[list[str]]:  # type: ignore[no-untyped-def]
    activate_env(POSSYNC_REDIS_URL=redis_server_url)
    calls: list[list[str]] = []
    monkeypatch.setattr(app, "worker_main", lambda argv: calls.append(argv))
    return calls


def _option(argv: list[str], name: str) -> str:
    return argv[argv.index(name) + 1]


def test_two_worker_processes_per_core_by_default(started: list[list[str]]) -> None:
    result = CliRunner().invoke(worker, ["--pos", "heartland"])
    assert result.exit_code == 0, result.output
    [argv] = started
    assert _option(argv, "--concurrency") == str(2 * (os.cpu_count() or 1))  # default_processes()
    assert _option(argv, "-Q") == "pos.heartland"


def test_an_explicit_concurrency_wins(started: list[list[str]]) -> None:
    assert CliRunner().invoke(worker, ["--tenant", "acme", "--concurrency", "3"]).exit_code == 0
    [argv] = started
    assert _option(argv, "--concurrency") == "3" and _option(argv, "-Q") == "tenant.acme"
