"""Fair dispatch of sync steps: each tenant waits in its own line, and waits live in Redis, not in a worker.

A step's message does not go straight onto its broker queue (`pos.<kind>`, `crm.freshsales`, `poll`,
`tenant.<name>`: any queue). It goes into a list of its own for its queue and tenant, made on demand,
or, when it must wait (a rate limit, a retry back-off, a tenant's import), into the queue's due-time
index (a sorted set scored by the time it is due). Every worker runs a dispatcher for the queues it
consumes (`possync.worker.dispatcher`), which keeps each broker queue at most `depth` messages long, taking
one message from each tenant with work in turn. A tenant with 20,000 syncs queued therefore has at
most its share of `depth` messages ahead of another tenant's live webhook, instead of all of them,
and a wait (Celery's countdown would be an ETA message held in the memory of the worker that took
it) survives that worker's death: any other worker's dispatcher sends it when due.

Each dispatched message carries a ticket, leased for as long as a message may wait in the broker's queue;
the task that runs it shortens the lease and renews it while it works (`possync.worker.heartbeat`), and ends it
when it finishes or hands the job on. A ticket whose lease lapses belonged to a worker that died (or
to a message held up in the broker past its lease): the dispatcher puts its message back at the front
of its tenant's line. A message arriving with
a ticket that is no longer its own (it was sent again meanwhile) is dropped, so a job never runs twice.
Everything is in Redis Lua scripts, atomic per call.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis
from redis.commands.core import Script

DEFAULT_DEPTH = 4  # broker messages per queue (POSSYNC_QUEUE_DEPTH); each finished task refills it
LEASE_SECONDS = 15.0  # a dead worker's running jobs resume this long after its last renewal
QUEUED_LEASE_SECONDS = 60.0  # a message not yet started: its time in the broker's queue, with room to spare
RENEW_EVERY_SECONDS = 3.0
MOST_PER_TURN = 1000  # wake-ups (and lapsed tickets) moved per dispatcher turn

_TURN = Path(__file__).with_name("fairqueue_turn.lua").read_text()  # shared by the scripts that take a turn
_SCRIPTS = {name: (_TURN if name != "backlog" else "") + Path(__file__).with_name(f"fairqueue_{name}.lua").read_text()
            for name in ("submit", "finish", "dispatch", "claim", "backlog")}


@functools.lru_cache(maxsize=8)
def _scripts(client: redis.Redis) -> dict[str, Script]:
    return {name: client.register_script(text) for name, text in _SCRIPTS.items()}


@dataclass(frozen=True)
class Dispatched:
    """A message the dispatcher took for its queue: publish `task` with `kwargs` (its ticket included)."""

    task: str
    job_id: int
    kwargs: dict[str, Any]


@dataclass(frozen=True)
class Turn:
    recovered: int  # lapsed tickets put back in line
    messages: list[Dispatched]

    @classmethod
    def parse(cls, raw: list[Any]) -> Turn:
        """A turn as the scripts return it: {recovered, ticket1, entry1, ticket2, entry2, ...}."""
        messages = []
        for ticket, entry in zip(raw[1::2], raw[2::2], strict=True):
            data = json.loads(entry)
            kwargs = {**data["kw"], "ticket": ticket.decode() if isinstance(ticket, bytes) else str(ticket)}
            messages.append(Dispatched(data["task"], int(data["job"]), kwargs))
        return cls(int(raw[0]), messages)


@dataclass(frozen=True)
class Backlog:
    """Messages a queue's fair lines hold outside the broker's list."""

    in_line: int  # ready now, waiting for their tenant's turn
    waiting: int  # in the due-time index (a rate-limit turn, a back-off)
    running: int  # dispatched and not finished (in the broker's list, in a worker, or running)

    @property
    def total(self) -> int:
        return self.in_line + self.waiting + self.running


class FairQueues:
    """The fair lines of every queue under one key prefix (the broker's global key prefix)."""

    def __init__(self, client: redis.Redis, prefix: str = "", depth: int = DEFAULT_DEPTH,
                 lease_seconds: float = LEASE_SECONDS, queued_lease_seconds: float = QUEUED_LEASE_SECONDS) -> None:
        self.client = client
        self.prefix = prefix
        self.depth = depth
        self.lease_ms = max(1, round(lease_seconds * 1000))
        self.queued_lease_ms = max(1, round(queued_lease_seconds * 1000))
        self._run = _scripts(client)

    def _base(self, queue: str) -> str:
        return f"{self.prefix}fq:{queue}:"

    def broker_list(self, queue: str) -> str:
        """The Redis list kombu keeps `queue` in: the broker's global key prefix and the queue's name."""
        return self.prefix + queue

    def _turn_args(self, queue: str) -> list[Any]:
        return [self._base(queue), self.broker_list(queue), self.depth, self.queued_lease_ms, MOST_PER_TURN]

    @property
    def registry(self) -> str:
        return f"{self.prefix}fq:queues"

    def submit(self, queue: str, tenant: str, task: str, job_id: int, kwargs: dict[str, Any], *,
               delay: float = 0.0, done_ticket: str | None = None) -> Turn:
        """Put a step's message in line (or, `delay` s from now by Redis's clock, in the due-time index),
        and take the queue's turn in the same call: publish what it returns.

        `done_ticket`: the ticket of the message now handing its job on; it ends in the same call, so a
        crash between the two can neither lose the job nor leave it held twice.
        """
        entry = json.dumps({"tenant": tenant, "task": task, "job": job_id, "kw": kwargs}, sort_keys=True)
        delay_ms = str(max(0, round(delay * 1000))) if delay > 0 else ""
        return Turn.parse(self._run["submit"](args=[*self._turn_args(queue), self.registry, queue, tenant, entry,
                                                    delay_ms, done_ticket or ""]))

    def dispatch(self, *queues: str) -> list[Turn]:
        """One turn for each of `queues`, in one call (a worker's tick)."""
        if not queues:
            return []
        args: list[Any] = [self.depth, self.queued_lease_ms, MOST_PER_TURN]
        for queue in queues:
            args += [self._base(queue), self.broker_list(queue)]
        return [Turn.parse(raw) for raw in self._run["dispatch"](args=args)]

    def claim(self, queue: str, ticket: str) -> bool:
        """Start (or keep) working under `ticket`: False when the message is stale and must be dropped."""
        return bool(self._run["claim"](args=[self._base(queue), ticket, self.lease_ms]))

    def finish(self, queue: str, ticket: str) -> Turn:
        """End `ticket` and take the queue's turn in the same call (the finished message's place is free)."""
        return Turn.parse(self._run["finish"](args=[*self._turn_args(queue), ticket]))

    def backlog(self, queue: str) -> Backlog:
        """Messages held for `queue` outside the broker: in line, waiting for their time, or running."""
        in_line, waiting, running = self._run["backlog"](args=[self._base(queue)])
        return Backlog(int(in_line), int(waiting), int(running))

    def queues(self) -> list[str]:
        return sorted(q.decode() if isinstance(q, bytes) else q for q in self.client.smembers(self.registry))


@dataclass(frozen=True)
class QueueDepth:
    """A queue's messages: in the broker's list, and in its fair lines (None: there are none)."""

    broker: int
    backlog: Backlog | None

    @property
    def total(self) -> int:
        """Everything not yet finished (a dispatched message counts in the broker's list and as running)."""
        return self.broker + (self.backlog.total if self.backlog else 0)

    @property
    def ready(self) -> int:
        """Messages that could run now if a worker were free: what more workers would serve sooner."""
        return self.broker + (self.backlog.in_line if self.backlog else 0)
