"""`possync worker`: the queues and process count it hands to Celery; `possync flower`: the broker it reads."""

from __future__ import annotations

import asyncio
import os

import pytest
from click.testing import CliRunner
from flower.utils.broker import Broker

from possync.entry.cli.flower import flower
from possync.entry.cli.run import worker
from possync.worker.celery_app import app
from tests.resilience.servers import SentinelGroup


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


def test_flower_reads_the_queues_through_the_sentinels(monkeypatch: pytest.MonkeyPatch, activate_env,  # type: ignore[no-untyped-def]
                                                       sentinel_group: SentinelGroup, sentinel_settings) -> None:
    activate_env(**sentinel_group.env())
    for _ in range(2):  # published as the workers do, through possync's own transport
        app.send_task("possync.sweeper.sweep", queue="flower-check")
    monkeypatch.setattr(app, "start", lambda argv: None)
    assert CliRunner().invoke(flower, ["--unauthenticated"]).exit_code == 0
    with app.connection() as conn:  # what Flower's broker page connects with (Flower.broker_uri_with_password)
        uri = conn.as_uri(include_password=True)
    broker = Broker(uri, broker_options=app.conf.broker_transport_options, broker_use_ssl=app.conf.broker_use_ssl)
    assert asyncio.run(broker.queues(["flower-check"])) == [{"name": "flower-check", "messages": 2}]
