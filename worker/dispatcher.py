"""Sending step messages through the fair lines (`possync.worker.fairqueue`), and the worker's dispatcher thread.

`send` puts a step's message in its tenant's line for its queue (or in the due-time index when it must
wait) and takes the queue's dispatcher turn in the same Redis call, so a live sync is not kept waiting
for the next tick; `finish` ends a finished message's ticket and takes the turn its place made, also in
one call. Every worker's main process also runs `Dispatcher`: a thread that takes a turn for every
queue the worker consumes every `TICK_SECONDS` (one call for all of them), which sends the wake-ups
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
from possync.worker.fairqueue import FairQueues, QueueDepth, Turn
from possync.worker.logging import get_logger
from possync.worker.runtime import fair_queues, redis_client
from possync.worker.settings import get_settings

log = get_logger("possync.dispatcher")
TICK_SECONDS = 0.2


def queue_depth(queue: str) -> QueueDepth:
    """Messages for `queue`: in the broker's list and in its fair lines (in line, due later, running)."""
    fair = fair_queues()
    broker = int(redis_client().llen(get_settings().redis_key_prefix + queue))
    return QueueDepth(broker, fair.backlog(queue) if fair is not None else None)


def queue_length(queue: str) -> int:
    return queue_depth(queue).total


def publish(queue: str, turn: Turn) -> int:
    """Send the messages a turn took for `queue` to the broker; returns how many."""
    if turn.recovered:
        log.warning("jobs whose lease lapsed put back in line (a worker died, or they waited in the broker "
                    "past their lease)", queue=queue, jobs=turn.recovered)
    for message in turn.messages:  # by name: a sender (the CLI, the receiver) need not have the task loaded
        app.signature(message.task).apply_async((message.job_id,), message.kwargs, queue=queue)
    return len(turn.messages)


def send(task: Task | Signature, job_id: int, kwargs: dict[str, Any], *, queue: str | None, tenant: str | None,
         countdown: float = 0.0, done_ticket: str | None = None) -> None:
    """Send a step's message to `queue` in `tenant`'s line, `countdown` s from now (durably, in Redis).

    The same script call takes the queue's turn, so a live sync reaches the broker in one Redis round trip.
    """
    fair = fair_queues()
    if fair is None or not queue or tenant is None:
        task.apply_async((job_id,), kwargs, countdown=countdown or None)
        return
    publish(queue, fair.submit(queue, tenant, task.name, job_id, kwargs, delay=countdown, done_ticket=done_ticket))


def finish(queue: str, ticket: str, fair: FairQueues) -> None:
    """A message's task is done: end its ticket and give its place to the next tenant's message, in one call."""
    publish(queue, fair.finish(queue, ticket))


class Dispatcher:
    """The thread of a worker's main process that takes a turn for each of its queues every tick."""

    def __init__(self, queues: Iterable[str], tick: float = TICK_SECONDS) -> None:
        self.queues = list(queues)
        self.tick = tick
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="possync-dispatcher", daemon=True)

    def _run(self) -> None:
        failing = False  # the last tick failed: logged once, not five times a second
        while not self._stop.wait(self.tick):
            fair = fair_queues()
            if fair is None:
                return
            try:  # one script call takes every queue's turn: an idle tick is one Redis round trip
                for queue, turn in zip(self.queues, fair.dispatch(*self.queues), strict=True):
                    publish(queue, turn)
            except Exception:  # Redis or the broker briefly away: the lines wait in Redis meanwhile
                if not failing:
                    log.warning("dispatcher turn failed", queues=self.queues, exc_info=True)
                failing = True
            else:
                failing = False

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
