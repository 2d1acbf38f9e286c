"""The fair lines against a real Redis: turns across tenants, a bounded broker queue, due times, leases."""

from __future__ import annotations

import redis

from possync.worker.fairqueue import FairQueues
from tests.e2e.harness import wait_for

QUEUE = "pos.lightspeed_r"


def _lines(client: redis.Redis, prefix: str, **options: float) -> FairQueues:
    return FairQueues(client, prefix, **options)  # type: ignore[arg-type]


def _publish(client: redis.Redis, prefix: str, count: int) -> None:
    """What the broker does with published messages: they lengthen the queue's list."""
    for _ in range(count):
        client.lpush(prefix + QUEUE, b"message")


def test_a_small_tenant_is_dispatched_in_the_first_turn_behind_a_large_backlog(redis_client, redis_prefix) -> None:  # type: ignore[no-untyped-def]
    lines = _lines(redis_client, redis_prefix, depth=4)
    for job in range(1000):
        lines.submit(QUEUE, "big", "possync.pipeline.fetch_customer", job, {"route": QUEUE})
    lines.submit(QUEUE, "small", "possync.pipeline.fetch_customer", 5000, {"route": QUEUE})
    turn = lines.dispatch(QUEUE, redis_prefix + QUEUE)
    assert [m.job_id for m in turn.messages] == [0, 5000, 1, 2]  # one each in turn, then the rest of the room
    assert len({m.kwargs["ticket"] for m in turn.messages}) == 4
    assert all(m.kwargs["route"] == QUEUE for m in turn.messages)


def test_the_broker_queue_never_grows_past_the_depth(redis_client, redis_prefix) -> None:  # type: ignore[no-untyped-def]
    lines = _lines(redis_client, redis_prefix, depth=5)
    for job in range(20):
        lines.submit(QUEUE, "big", "t", job, {})
    first = lines.dispatch(QUEUE, redis_prefix + QUEUE)
    _publish(redis_client, redis_prefix, len(first.messages))
    assert len(first.messages) == 5
    assert lines.dispatch(QUEUE, redis_prefix + QUEUE).messages == []  # full: nothing more
    redis_client.rpop(redis_prefix + QUEUE)  # a worker took one
    assert [m.job_id for m in lines.dispatch(QUEUE, redis_prefix + QUEUE).messages] == [5]
    assert lines.backlog(QUEUE) == 20  # 14 in line and 6 dispatched, not yet finished


def test_a_wait_stays_in_redis_until_due_then_is_dispatched(redis_client, redis_prefix) -> None:  # type: ignore[no-untyped-def]
    lines = _lines(redis_client, redis_prefix)
    assert lines.submit(QUEUE, "t1", "t", 1, {"held_turn": 1.5}, delay=0.3) is False
    assert lines.dispatch(QUEUE, redis_prefix + QUEUE).messages == []  # not yet due
    assert lines.backlog(QUEUE) == 1
    turn = wait_for(lambda: lines.dispatch(QUEUE, redis_prefix + QUEUE).messages, timeout=30, interval=0.05,
                    what="the wake-up to come due")
    assert [(m.job_id, m.kwargs["held_turn"]) for m in turn] == [(1, 1.5)]


def test_a_ticket_is_claimed_renewed_and_ended(redis_client, redis_prefix) -> None:  # type: ignore[no-untyped-def]
    lines = _lines(redis_client, redis_prefix, lease_seconds=5, queued_lease_seconds=60)
    lines.submit(QUEUE, "t1", "t", 1, {})
    (message,) = lines.dispatch(QUEUE, redis_prefix + QUEUE).messages
    ticket = message.kwargs["ticket"]
    lease = f"{redis_prefix}fq:{QUEUE}:lease"
    queued_until = redis_client.zscore(lease, ticket)
    assert lines.claim(QUEUE, ticket) and lines.claim(QUEUE, ticket)
    assert redis_client.zscore(lease, ticket) < queued_until - 30_000  # running: the short lease, renewed
    lines.done(QUEUE, ticket)
    assert not lines.claim(QUEUE, ticket)
    assert lines.backlog(QUEUE) == 0


def test_a_lapsed_lease_puts_the_job_back_first_in_line_and_drops_the_old_message(redis_client, redis_prefix) -> None:  # type: ignore[no-untyped-def]
    lines = _lines(redis_client, redis_prefix, lease_seconds=0.2, queued_lease_seconds=0.2, depth=1)
    lines.submit(QUEUE, "t1", "t", 1, {})
    lines.submit(QUEUE, "t1", "t", 2, {})
    (lost,) = lines.dispatch(QUEUE, redis_prefix + QUEUE).messages  # its worker dies without renewing
    _publish(redis_client, redis_prefix, 1)  # the broker queue is full (depth 1): job 2 keeps waiting
    wait_for(lambda: lines.dispatch(QUEUE, redis_prefix + QUEUE).recovered == 1, timeout=30, interval=0.05,
             what="the lapsed lease to be recovered")
    redis_client.rpop(redis_prefix + QUEUE)  # the stale message is taken (and will be dropped)
    (again,) = lines.dispatch(QUEUE, redis_prefix + QUEUE).messages
    assert again.job_id == lost.job_id == 1  # ahead of job 2, which waited behind it
    assert again.kwargs["ticket"] != lost.kwargs["ticket"]
    assert not lines.claim(QUEUE, lost.kwargs["ticket"])  # the old message, if it ever arrives, is dropped
    assert lines.claim(QUEUE, again.kwargs["ticket"])


def test_handing_a_job_on_ends_its_ticket_in_the_same_call(redis_client, redis_prefix) -> None:  # type: ignore[no-untyped-def]
    lines = _lines(redis_client, redis_prefix)
    lines.submit(QUEUE, "t1", "t", 1, {})
    (message,) = lines.dispatch(QUEUE, redis_prefix + QUEUE).messages
    lines.submit(QUEUE, "t1", "t", 1, {}, delay=60, done_ticket=message.kwargs["ticket"])
    assert not lines.claim(QUEUE, message.kwargs["ticket"])
    assert lines.backlog(QUEUE) == 1  # only the wake-up
    assert lines.queues() == [QUEUE]


def test_lines_are_per_queue(redis_client, redis_prefix) -> None:  # type: ignore[no-untyped-def]
    lines = _lines(redis_client, redis_prefix)
    lines.submit("crm.freshsales", "t1", "t", 1, {})
    assert lines.dispatch(QUEUE, redis_prefix + QUEUE).messages == []
    assert [m.job_id for m in lines.dispatch("crm.freshsales", redis_prefix + "crm.freshsales").messages] == [1]
