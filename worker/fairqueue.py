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

_SCRIPTS = {name: Path(__file__).with_name(f"fairqueue_{name}.lua").read_text()
            for name in ("submit", "dispatch", "claim", "backlog")}


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

    @property
    def registry(self) -> str:
        return f"{self.prefix}fq:queues"

    def submit(self, queue: str, tenant: str, task: str, job_id: int, kwargs: dict[str, Any], *,
               delay: float = 0.0, done_ticket: str | None = None) -> bool:
        """Put a step's message in line (or, `delay` s from now by Redis's clock, in the due-time index).

        `done_ticket`: the ticket of the message now handing its job on; it ends in the same call, so a
        crash between the two can neither lose the job nor leave it held twice. True: in line now.
        """
        entry = json.dumps({"tenant": tenant, "task": task, "job": job_id, "kw": kwargs}, sort_keys=True)
        delay_ms = str(max(0, round(delay * 1000))) if delay > 0 else ""
        return bool(self._run["submit"](args=[self._base(queue), self.registry, queue, tenant, entry, delay_ms,
                                              done_ticket or ""]))

    def dispatch(self, queue: str, broker_list: str) -> Turn:
        """One turn for `queue` whose broker list is the Redis key `broker_list`."""
        raw = self._run["dispatch"](args=[self._base(queue), broker_list, self.depth, self.queued_lease_ms,
                                          MOST_PER_TURN])
        messages = []
        for ticket, entry in zip(raw[1::2], raw[2::2], strict=True):
            data = json.loads(entry)
            kwargs = {**data["kw"], "ticket": ticket.decode() if isinstance(ticket, bytes) else str(ticket)}
            messages.append(Dispatched(data["task"], int(data["job"]), kwargs))
        return Turn(int(raw[0]), messages)

    def claim(self, queue: str, ticket: str) -> bool:
        """Start (or keep) working under `ticket`: False when the message is stale and must be dropped."""
        return bool(self._run["claim"](args=[self._base(queue), ticket, self.lease_ms]))

    def done(self, queue: str, ticket: str) -> None:
        base = self._base(queue)
        pipe = self.client.pipeline(transaction=True)
        pipe.zrem(base + "lease", ticket)
        pipe.hdel(base + "held", ticket)
        pipe.execute()

    def backlog(self, queue: str) -> int:
        """Messages held for `queue` outside the broker: in line, waiting for their time, or running."""
        return int(self._run["backlog"](args=[self._base(queue)]))

    def queues(self) -> list[str]:
        return sorted(q.decode() if isinstance(q, bytes) else q for q in self.client.smembers(self.registry))
