"""Sending step messages through the fair lines (`possync.worker.fairqueue`), and the worker's dispatcher thread.

`send` puts a step's message in its tenant's line for its queue (or in the due-time index when it must
wait) and, when a message is in line, runs one dispatcher turn for that queue at once, so a live sync
is not kept waiting for the next tick. Every worker's main process also runs `Dispatcher`: a thread
that takes a turn for each queue the worker consumes every `TICK_SECONDS`, which sends the wake-ups
now due and the messages of workers that died. Without Redis (`possync demo`, embedded mode) there
are no lines: messages go to the broker directly, with Celery's countdown.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any

from celery import Task
from celery.canvas import Signature
from celery.signals import worker_ready, worker_shutdown

from possync.worker.celery_app import app
from possync.worker.fairqueue import FairQueues
from possync.worker.logging import get_logger
from possync.worker.runtime import fair_queues, redis_client
from possync.worker.settings import get_settings

log = get_logger("possync.dispatcher")
TICK_SECONDS = 0.2


def broker_list(queue: str) -> str:
    """The Redis list kombu keeps `queue` in: the broker's global key prefix and the queue's name."""
    return get_settings().redis_key_prefix + queue


def queue_length(queue: str) -> int:
    """Messages for `queue`: in the broker's list and in its fair lines (in line, due later, running)."""
    fair = fair_queues()
    return int(redis_client().llen(broker_list(queue))) + (fair.backlog(queue) if fair is not None else 0)


def pump(queue: str, fair: FairQueues | None = None) -> int:
    """One dispatcher turn for `queue`: publish what it took; returns how many messages."""
    fair = fair or fair_queues()
    if fair is None:
        return 0
    turn = fair.dispatch(queue, broker_list(queue))
    if turn.recovered:
        log.warning("jobs whose lease lapsed put back in line (a worker died, or they waited in the broker "
                    "past their lease)", queue=queue, jobs=turn.recovered)
    for message in turn.messages:  # by name: a sender (the CLI, the receiver) need not have the task loaded
        app.signature(message.task).apply_async((message.job_id,), message.kwargs, queue=queue)
    return len(turn.messages)


def send(task: Task | Signature, job_id: int, kwargs: dict[str, Any], *, queue: str | None, tenant: str | None,
         countdown: float = 0.0, done_ticket: str | None = None) -> None:
    """Send a step's message to `queue` in `tenant`'s line, `countdown` s from now (durably, in Redis)."""
    fair = fair_queues()
    if fair is None or not queue or tenant is None:
        task.apply_async((job_id,), kwargs, countdown=countdown or None)
        return
    if fair.submit(queue, tenant, task.name, job_id, kwargs, delay=countdown, done_ticket=done_ticket):
        pump(queue, fair)


class Dispatcher:
    """The thread of a worker's main process that takes a turn for each of its queues every tick."""

    def __init__(self, queues: Iterable[str], tick: float = TICK_SECONDS) -> None:
        self.queues = list(queues)
        self.tick = tick
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="possync-dispatcher", daemon=True)

    def _run(self) -> None:
        failing: set[str] = set()  # queues whose last turn failed: logged once, not five times a second
        while not self._stop.wait(self.tick):
            fair = fair_queues()
            if fair is None:
                return
            for queue in self.queues:
                try:
                    pump(queue, fair)
                except Exception:  # Redis or the broker briefly away: the lines wait in Redis meanwhile
                    if queue not in failing:
                        log.warning("dispatcher turn failed", queue=queue, exc_info=True)
                    failing.add(queue)
                else:
                    failing.discard(queue)

    def start(self) -> Dispatcher:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


_running: list[Dispatcher] = []


@worker_ready.connect
def _start_dispatcher(sender: Any = None, **_: Any) -> None:
    queues = [q.name for q in getattr(getattr(sender, "task_consumer", None), "queues", [])]
    if queues and fair_queues() is not None:
        _running.append(Dispatcher(queues).start())


@worker_shutdown.connect
def _stop_dispatcher(**_: Any) -> None:
    while _running:
        _running.pop().stop()
