"""Queues and the router (ARCHITECTURE principle 6).

Intake and polls have their own queues; sync steps run on their POS kind's queue, or on
`tenant.<name>` for tenants marked `dedicated_queue`. Step tasks carry their queue as the `route`
keyword, set once when the chain is built from the tenant, so the router needs no database. Step
messages reach their queue through per-tenant fair lines (`possync.worker.fairqueue`), whatever the queue.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from kombu import Exchange, Queue

from possync.models.tables import PosKind
from possync.models.tenants import tenant_queue

INTAKE_QUEUE = "intake"
POLL_QUEUE = "poll"
POS_QUEUES = tuple(kind.queue for kind in PosKind)
CRM_QUEUES = ("crm.freshsales",)  # a queue per destination kind (ARCHITECTURE principle 9)


def queue_for_pos(kind: str) -> str:
    """`heartland` or `lightspeed-r` (CLI spelling) -> its queue name."""
    try:
        return PosKind(kind).queue
    except ValueError:
        pass
    for member in PosKind:
        if member.name.lower() == kind.replace("-", "_").lower() or member.queue == kind:
            return member.queue
    raise ValueError(f"unknown POS kind {kind!r}; expected one of {', '.join(k.value for k in PosKind)}")


def queues_for(pos_kinds: Iterable[str] = (), tenants: Iterable[str] = ()) -> list[str]:
    """The queues a `possync worker --pos ... --tenant ...` consumes; all shared queues by default."""
    pos_kinds, tenants = list(pos_kinds), list(tenants)
    if not pos_kinds and not tenants:
        return [INTAKE_QUEUE, POLL_QUEUE, *POS_QUEUES, *CRM_QUEUES]
    return [queue_for_pos(k) for k in pos_kinds] + [tenant_queue(t) for t in tenants]


def declared_queues() -> list[Queue]:
    """Each queue on its own direct exchange with its name as the key (as Celery makes missing ones)."""
    names = (INTAKE_QUEUE, POLL_QUEUE, *POS_QUEUES, *CRM_QUEUES)
    return [Queue(name, Exchange(name), routing_key=name) for name in names]


TASK_QUEUES = {
    "possync.intake.process_event": INTAKE_QUEUE,
    "possync.poll.schedule_polls": POLL_QUEUE,
    "possync.poll.poll_pos_changes": POLL_QUEUE,
    "possync.poll.start_polls": POLL_QUEUE,
    "possync.onboarding.import_pos_customers": POLL_QUEUE,
    "possync.shopify.scan_duplicates": POLL_QUEUE,
    "possync.sweeper.sweep": INTAKE_QUEUE,
    "possync.retention.fold_counts": INTAKE_QUEUE,
    "possync.retention.prune": INTAKE_QUEUE,
}


def route_task(name: str, args: Any, kwargs: dict[str, Any] | None, options: dict[str, Any], task: Any = None,
               **_: Any) -> dict[str, str] | None:
    """Celery router: a step's `route` keyword names its queue; other tasks have a fixed one."""
    if kwargs and kwargs.get("route"):
        return {"queue": kwargs["route"]}
    queue = TASK_QUEUES.get(name)
    return {"queue": queue} if queue else None
