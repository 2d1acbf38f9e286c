"""The fair lines against a real Redis: turns across tenants, a bounded broker queue, due times, leases."""

from __future__ import annotations

import time
from typing import Any

import redis

from possync.worker.fairqueue import FairQueues, Turn
from tests.e2e.harness import wait_for

QUEUE = "pos.lightspeed_r"


def _lines(client: redis.Redis, prefix: str, **options: float) -> FairQueues:
    return FairQueues(client, prefix, **options)  # type: ignore[arg-type]


def _publish(client: redis.Redis, prefix: str, count: int) -> None:
    """What the broker does with published messages: they lengthen the queue's list."""
    for _ in range(count):
        client.lpush(prefix + QUEUE, b"message")


def _sent(client: redis.Redis, prefix: str, turn: Turn) -> list[int]:
    """Publish what a turn took, as `possync.worker.dispatcher.publish` does; returns their job ids."""
    _publish(client, prefix, len(turn.messages))
    return [m.job_id for m in turn.messages]


def _submit(client: redis.Redis, prefix: str, lines: FairQueues, tenant: str, job: int, **options: Any) -> list[int]:
    return _sent(client, prefix, lines.submit(QUEUE, tenant, "possync.pipeline.fetch_customer", job,
                                              {"route": QUEUE}, **options))


def test_a_small_tenant_is_dispatched_in_the_first_turn_behind_a_large_backlog(redis_client, redis_prefix) -> None:  # type: ignore[no-untyped-def]
    lines = _lines(redis_client, redis_prefix, depth=4)
    sent = [job for n in range(1000) for job in _submit(redis_client, redis_prefix, lines, "big", n)]
    assert sent == [0, 1, 2, 3]  # each submit took the queue's turn: the broker queue filled up at once
    assert _submit(redis_client, redis_prefix, lines, "small", 5000) == []  # full
    redis_client.delete(redis_prefix + QUEUE)  # a worker took the four
    (turn,) = lines.dispatch(QUEUE)
    assert [m.job_id for m in turn.messages] == [4, 5000, 5, 6]  # one each in turn, then the rest of the room
    assert len({m.kwargs["ticket"] for m in turn.messages}) == 4
    assert all(m.kwargs["route"] == QUEUE for m in turn.messages)


def test_the_broker_queue_never_grows_past_the_depth(redis_client, redis_prefix) -> None:  # type: ignore[no-untyped-def]
    lines = _lines(redis_client, redis_prefix, depth=5)
    sent = [job for n in range(20) for job in _submit(redis_client, redis_prefix, lines, "big", n)]
    assert sent == [0, 1, 2, 3, 4]
    assert lines.dispatch(QUEUE)[0].messages == []  # full: nothing more
    redis_client.rpop(redis_prefix + QUEUE)  # a worker took one
    assert [m.job_id for m in lines.dispatch(QUEUE)[0].messages] == [5]
    backlog = lines.backlog(QUEUE)
    assert (backlog.in_line, backlog.waiting, backlog.running, backlog.total) == (14, 0, 6, 20)


def test_a_wait_stays_in_redis_until_due_then_is_dispatched(redis_client, redis_prefix) -> None:  # type: ignore[no-untyped-def]
    lines = _lines(redis_client, redis_prefix)
    assert lines.submit(QUEUE, "t1", "t", 1, {"held_turn": 1.5}, delay=0.3).messages == []  # not yet due
    assert lines.dispatch(QUEUE)[0].messages == []
    assert lines.backlog(QUEUE).waiting == 1
    turn = wait_for(lambda: lines.dispatch(QUEUE)[0].messages, timeout=30, interval=0.05,
                    what="the wake-up to come due")
    assert [(m.job_id, m.kwargs["held_turn"]) for m in turn] == [(1, 1.5)]


def test_a_ticket_is_claimed_renewed_and_ended(redis_client, redis_prefix) -> None:  # type: ignore[no-untyped-def]
    lines = _lines(redis_client, redis_prefix, lease_seconds=5, queued_lease_seconds=60)
    (message,) = lines.submit(QUEUE, "t1", "t", 1, {}).messages
    ticket = message.kwargs["ticket"]
    lease = f"{redis_prefix}fq:{QUEUE}:lease"
    queued_until = redis_client.zscore(lease, ticket)
    assert lines.claim(QUEUE, ticket) and lines.claim(QUEUE, ticket)
    assert redis_client.zscore(lease, ticket) < queued_until - 30_000  # running: the short lease, renewed
    lines.finish(QUEUE, ticket)
    assert not lines.claim(QUEUE, ticket)
    assert lines.backlog(QUEUE).total == 0


def test_finishing_a_message_ends_its_ticket_and_takes_the_next_turn_in_one_call(redis_client, redis_prefix) -> None:  # type: ignore[no-untyped-def]
    lines = _lines(redis_client, redis_prefix, depth=1)
    (first,) = lines.submit(QUEUE, "big", "t", 1, {}).messages
    _publish(redis_client, redis_prefix, 1)
    assert lines.submit(QUEUE, "big", "t", 2, {}).messages == []  # the broker queue is full (depth 1)
    redis_client.rpop(redis_prefix + QUEUE)  # the worker takes job 1 and runs it
    turn = lines.finish(QUEUE, first.kwargs["ticket"])
    assert [m.job_id for m in turn.messages] == [2]
    assert lines.backlog(QUEUE).running == 1  # job 2's ticket only


def test_a_lapsed_lease_puts_the_job_back_first_in_line_and_drops_the_old_message(redis_client, redis_prefix) -> None:  # type: ignore[no-untyped-def]
    lines = _lines(redis_client, redis_prefix, lease_seconds=0.2, queued_lease_seconds=0.2, depth=1)
    (lost,) = lines.submit(QUEUE, "t1", "t", 1, {}).messages  # its worker dies without renewing
    _publish(redis_client, redis_prefix, 1)  # the broker queue is full (depth 1): job 2 keeps waiting
    assert lines.submit(QUEUE, "t1", "t", 2, {}).messages == []
    wait_for(lambda: lines.dispatch(QUEUE)[0].recovered == 1, timeout=30, interval=0.05,
             what="the lapsed lease to be recovered")
    redis_client.rpop(redis_prefix + QUEUE)  # the stale message is taken (and will be dropped)
    (again,) = lines.dispatch(QUEUE)[0].messages
    assert again.job_id == lost.job_id == 1  # ahead of job 2, which waited behind it
    assert again.kwargs["ticket"] != lost.kwargs["ticket"]
    assert not lines.claim(QUEUE, lost.kwargs["ticket"])  # the old message, if it ever arrives, is dropped
    assert lines.claim(QUEUE, again.kwargs["ticket"])


def test_handing_a_job_on_ends_its_ticket_in_the_same_call(redis_client, redis_prefix) -> None:  # type: ignore[no-untyped-def]
    lines = _lines(redis_client, redis_prefix)
    (message,) = lines.submit(QUEUE, "t1", "t", 1, {}).messages
    lines.submit(QUEUE, "t1", "t", 1, {}, delay=60, done_ticket=message.kwargs["ticket"])
    assert not lines.claim(QUEUE, message.kwargs["ticket"])
    assert lines.backlog(QUEUE).total == 1  # only the wake-up
    assert lines.queues() == [QUEUE]


def test_lines_are_per_queue_and_one_tick_takes_every_queues_turn(redis_client, redis_prefix) -> None:  # type: ignore[no-untyped-def]
    lines = _lines(redis_client, redis_prefix)
    lines.submit("crm.freshsales", "t1", "t", 1, {}, delay=0.05)
    lines.submit(QUEUE, "t1", "t", 2, {}, delay=0.05)
    time.sleep(0.3)  # both come due
    crm, pos, idle = lines.dispatch("crm.freshsales", QUEUE, "poll")
    assert ([m.job_id for m in crm.messages], [m.job_id for m in pos.messages], idle.messages) == ([1], [2], [])
