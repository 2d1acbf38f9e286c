"""Sending step messages through the fair lines, on the real broker (Redis) and without one."""

from __future__ import annotations

from typing import Any

import pytest

from possync.worker import dispatcher
from tests.e2e.harness import wait_for

QUEUE = "pos.heartland"


class RecordingTask:
    """Stands in for a step task where the test only needs to see how it was sent."""

    name = "possync.pipeline.fetch_customer"

    def __init__(self) -> None:
        self.sent: list[tuple[Any, ...]] = []

    def apply_async(self, args: Any, kwargs: Any, countdown: float | None = None, **_: Any) -> None:
        self.sent.append((args, kwargs, countdown))


@pytest.fixture
def on_redis(activate_env, redis_server_url: str, redis_prefix: str) -> str:  # type: ignore[no-untyped-def]
    activate_env(POSSYNC_REDIS_URL=redis_server_url, POSSYNC_REDIS_KEY_PREFIX=redis_prefix, POSSYNC_QUEUE_DEPTH="3")
    return redis_prefix


def test_a_step_in_line_reaches_the_broker_at_once_with_its_ticket(on_redis: str, redis_client) -> None:  # type: ignore[no-untyped-def]
    from possync.tasks.pipeline import TASKS

    dispatcher.send(TASKS["fetch_customer"], 7, {"route": QUEUE, "tenant": "1"}, queue=QUEUE, tenant="1")
    assert redis_client.llen(on_redis + QUEUE) == 1  # published by the sender's own turn, not at the next tick
    assert dispatcher.queue_length(QUEUE) == 2  # the message, and its ticket until the job finishes


def test_the_broker_queue_holds_at_most_the_depth_and_the_rest_wait_in_line(on_redis: str, redis_client) -> None:  # type: ignore[no-untyped-def]
    from possync.tasks.pipeline import TASKS

    for job in range(10):
        dispatcher.send(TASKS["fetch_customer"], job, {"route": QUEUE, "tenant": "1"}, queue=QUEUE, tenant="1")
    assert redis_client.llen(on_redis + QUEUE) == 3  # POSSYNC_QUEUE_DEPTH
    assert dispatcher.queue_length(QUEUE) == 3 + 10
    depth = dispatcher.queue_depth(QUEUE)
    assert (depth.broker, depth.ready) == (3, 3 + 7)  # the dispatched three count as running, not ready


def test_a_wait_is_kept_in_redis_not_sent_with_a_countdown(on_redis: str, redis_client) -> None:  # type: ignore[no-untyped-def]
    task = RecordingTask()
    dispatcher.send(task, 7, {"route": QUEUE, "tenant": "1"}, queue=QUEUE, tenant="1", countdown=60)  # type: ignore[arg-type]
    assert task.sent == [] and redis_client.llen(on_redis + QUEUE) == 0
    assert dispatcher.queue_length(QUEUE) == 1  # in the due-time index


def test_without_redis_a_wait_is_celerys_countdown(activate_env) -> None:  # type: ignore[no-untyped-def]
    activate_env()  # no POSSYNC_REDIS_URL: `possync demo`'s in-memory broker
    task = RecordingTask()
    dispatcher.send(task, 7, {"route": QUEUE, "tenant": "1"}, queue=QUEUE, tenant="1", countdown=2.5)  # type: ignore[arg-type]
    assert task.sent == [((7,), {"route": QUEUE, "tenant": "1"}, 2.5)]


def test_sending_and_finishing_a_message_cost_one_redis_call_each(on_redis: str, redis_client, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The hot path: a sent step reaches the broker, and a finished one hands its place on, in one call each."""
    from possync.tasks.pipeline import TASKS

    fair = dispatcher.fair_queues()
    assert fair is not None
    calls: list[str] = []
    execute = fair.client.execute_command

    def counted(*args: Any, **options: Any) -> Any:
        calls.append(str(args[0]))
        return execute(*args, **options)

    monkeypatch.setattr(fair.client, "execute_command", counted)
    for job in (1, 2):  # the first of each loads the scripts into Redis
        dispatcher.send(TASKS["fetch_customer"], job, {"route": QUEUE, "tenant": "1"}, queue=QUEUE, tenant="1")
    redis_client.delete(on_redis + QUEUE)  # a worker took both
    tickets = [ticket.decode() for ticket in redis_client.zrange(f"{on_redis}fq:{QUEUE}:lease", 0, -1)]
    dispatcher.finish(QUEUE, tickets[0], fair)
    calls.clear()
    dispatcher.send(TASKS["fetch_customer"], 3, {"route": QUEUE, "tenant": "2"}, queue=QUEUE, tenant="2")
    assert calls == ["EVALSHA"] and redis_client.llen(on_redis + QUEUE) == 1
    calls.clear()
    dispatcher.finish(QUEUE, tickets[1], fair)
    assert calls == ["EVALSHA"]


def test_a_tick_takes_every_queues_turn_in_one_call(on_redis: str, redis_client, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from possync.tasks.pipeline import TASKS

    fair = dispatcher.fair_queues()
    assert fair is not None
    queues = ("intake", "poll", QUEUE)
    dispatcher.send(TASKS["fetch_customer"], 7, {"route": QUEUE, "tenant": "1"}, queue=QUEUE, tenant="1",
                    countdown=0.2)
    ticks: list[tuple[str, ...]] = []
    dispatch = fair.dispatch

    def recorded(*args: str) -> Any:
        ticks.append(args)
        return dispatch(*args)

    monkeypatch.setattr(fair, "dispatch", recorded)
    running = dispatcher.Dispatcher(queues, tick=0.05).start()
    try:
        wait_for(lambda: redis_client.llen(on_redis + QUEUE) == 1, timeout=30, interval=0.05, what="the wake-up")
    finally:
        running.stop()
    assert ticks and set(ticks) == {queues}


def test_a_step_sent_by_name_reaches_the_broker_where_its_task_is_not_loaded(on_redis: str, redis_client) -> None:  # type: ignore[no-untyped-def]
    """`possync poll` and the receiver send steps without loading the pipeline's tasks (`tasks/sending.py`)."""
    from possync.worker.celery_app import app

    name = "possync.pipeline.a_step_this_process_never_loaded"
    assert name not in app.tasks
    dispatcher.send(app.signature(name), 7, {"route": QUEUE, "tenant": "1"}, queue=QUEUE, tenant="1")
    assert redis_client.llen(on_redis + QUEUE) == 1
    assert name.encode() in redis_client.lindex(on_redis + QUEUE, 0)
