"""The shared token bucket against a real Redis: one budget for every worker, cooldowns, header corrections."""

from __future__ import annotations

import itertools
import threading
import time

import fakeredis
import pytest

from adapters.ratelimit import RateLimitInfo
from worker.limiter import BucketSize, Grant, RateLimiter
from worker.runtime import connect_redis


def test_bucket_allows_capacity_then_asks_to_wait(redis_client, redis_prefix) -> None:  # type: ignore[no-untyped-def]
    limiter = RateLimiter(redis_client, redis_prefix)
    size = BucketSize(capacity=5, per_second=10)
    waits = [limiter.acquire("acme", size).wait for _ in range(6)]
    assert waits[:5] == [0, 0, 0, 0, 0]
    assert 0 < waits[5] <= 0.1


def test_buckets_are_per_tenant(redis_client, redis_prefix) -> None:  # type: ignore[no-untyped-def]
    limiter = RateLimiter(redis_client, redis_prefix)
    size = BucketSize(capacity=1, per_second=0.5)
    assert limiter.acquire("a", size).wait == 0
    assert limiter.acquire("a", size).wait > 0
    assert limiter.acquire("b", size).wait == 0


def test_many_threads_share_one_budget(redis_client, redis_prefix) -> None:  # type: ignore[no-untyped-def]
    limiter = RateLimiter(redis_client, redis_prefix)
    size = BucketSize(capacity=20, per_second=0.01)
    allowed = []

    def worker() -> None:
        for _ in range(10):
            if limiter.acquire("acme", size).wait == 0:
                allowed.append(1)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(allowed) == 20


def test_cooldown_blocks_every_caller_until_it_expires(redis_client, redis_prefix) -> None:  # type: ignore[no-untyped-def]
    limiter = RateLimiter(redis_client, redis_prefix)
    size = BucketSize(capacity=100, per_second=100)
    limiter.cooldown("acme", 2.0)
    wait = limiter.acquire("acme", size).wait
    assert 1.5 < wait <= 2.0
    assert limiter.acquire("other", size).wait == 0


def test_headers_correct_the_bucket(redis_client, redis_prefix) -> None:  # type: ignore[no-untyped-def]
    limiter = RateLimiter(redis_client, redis_prefix)
    size = BucketSize(capacity=90, per_second=1)
    assert limiter.acquire("acme", size).wait == 0
    limiter.observe("acme", RateLimitInfo(capacity=20, level=19.5, drip_per_second=10))
    state = limiter.state("acme")
    assert state["capacity"] == 20 and state["rate"] == 10
    assert state["tokens"] <= 0.6
    limiter.observe("acme", RateLimitInfo(retry_after=1.0))
    assert limiter.acquire("acme", size).wait > 0.5


def test_a_refund_gives_back_what_the_vendor_did_not_keep(redis_client, redis_prefix) -> None:  # type: ignore[no-untyped-def]
    """Shopify: charged the requested points before sending, corrected by requested minus actual after."""
    limiter = RateLimiter(redis_client, redis_prefix)
    size = BucketSize(capacity=100, per_second=0.01)
    assert limiter.acquire("shop", size, cost=62).wait == 0  # a search asks for 62 points ...
    limiter.observe("shop", RateLimitInfo(), refund=60)  # ... and keeps 2 when it finds nobody
    assert limiter.state("shop")["tokens"] == pytest.approx(98, abs=0.1)
    limiter.observe("shop", RateLimitInfo(), refund=500)  # never above the bucket's size
    assert limiter.state("shop")["tokens"] == pytest.approx(100, abs=0.1)
    limiter.observe("shop", RateLimitInfo(), refund=-10)  # it kept more than was charged
    assert limiter.state("shop")["tokens"] == pytest.approx(90, abs=0.1)
    # The vendor's own reading still caps what the refund gave back.
    limiter.observe("shop", RateLimitInfo(capacity=100, level=95, drip_per_second=0.01), refund=6)
    assert limiter.state("shop")["tokens"] == pytest.approx(5, abs=0.1)


def test_embedded_mode_runs_the_same_script_on_fakeredis() -> None:
    limiter = RateLimiter(fakeredis.FakeRedis(), "demo:")
    size = BucketSize(capacity=2, per_second=1)
    assert [limiter.acquire("t", size).wait > 0 for _ in range(3)] == [False, False, True]


def test_on_credit_requests_always_pass_and_delay_the_next_caller(redis_client, redis_prefix) -> None:  # type: ignore[no-untyped-def]
    limiter = RateLimiter(redis_client, redis_prefix)
    size = BucketSize(capacity=1, per_second=10)
    assert limiter.acquire("acme", size).wait == 0
    assert [limiter.acquire("acme", size, on_credit=True).wait for _ in range(3)] == [0, 0, 0]
    wait = limiter.acquire("acme", size).wait
    assert 0.3 < wait <= 0.41  # three tokens of debt plus one to take, at 10/s


def test_the_vendors_request_cost_is_learnt(redis_client, redis_prefix) -> None:  # type: ignore[no-untyped-def]
    """R-Series charges more than 1 unit for a request with relations: charging 1 would overrun it."""
    limiter = RateLimiter(redis_client, redis_prefix)
    size = BucketSize(capacity=10, per_second=0.01)
    limiter.observe("acme", RateLimitInfo(capacity=10, level=0, drip_per_second=0.01, request_cost=2.0))
    waits = [limiter.acquire("acme", size).wait for _ in range(6)]
    assert waits[:5] == [0, 0, 0, 0, 0] and waits[5] > 0  # 5 requests of 2 units fill a bucket of 10


def test_waiting_callers_get_spaced_turns_and_go_ahead_of_newcomers(redis_client, redis_prefix) -> None:  # type: ignore[no-untyped-def]
    """A backlog wakes one caller per refill instead of every caller at once for a single token."""
    limiter = RateLimiter(redis_client, redis_prefix)
    size = BucketSize(capacity=1, per_second=10)
    grants = [limiter.acquire("acme", size) for _ in range(5)]
    assert grants[0] == Grant(0.0, False) and all(g.turn for g in grants[1:])
    waits = [g.wait for g in grants[1:]]
    assert 0.09 <= waits[0] <= 0.1 and all(0.09 <= b - a <= 0.11 for a, b in itertools.pairwise(waits))
    time.sleep(waits[0])
    assert limiter.acquire("acme", size, holds_turn=True) == Grant(0.0, False)  # the first turn goes
    assert limiter.acquire("acme", size).wait > waits[-1] - waits[0]  # a newcomer waits behind the turns


def test_callers_still_short_at_their_turn_get_next_turns_not_the_last(redis_client, redis_prefix) -> None:  # type: ignore[no-untyped-def]
    limiter = RateLimiter(redis_client, redis_prefix)
    size = BucketSize(capacity=1, per_second=10)
    assert limiter.acquire("acme", size).wait == 0
    turns = [limiter.acquire("acme", size) for _ in range(5)]  # turns at 0.1 ... 0.5 s
    limiter.acquire("acme", size, on_credit=True)  # two requests of running steps, uncounted by the turns
    limiter.acquire("acme", size, on_credit=True)
    time.sleep(turns[0].wait)
    short = [limiter.acquire("acme", size, holds_turn=True) for _ in range(2)]  # two holders come back
    assert all(g.turn for g in short)
    assert 0.09 <= short[1].wait - short[0].wait <= 0.11  # their own turns, never the same wait
    assert short[1].wait < limiter.acquire("acme", size).wait  # ahead of a newcomer


def test_a_turn_is_delayed_by_requests_made_on_credit_meanwhile(redis_client, redis_prefix) -> None:  # type: ignore[no-untyped-def]
    """Tokens are taken when a request goes, so turns never let more through than the vendor allows."""
    limiter = RateLimiter(redis_client, redis_prefix)
    size = BucketSize(capacity=1, per_second=10)
    assert limiter.acquire("acme", size).wait == 0
    turn = limiter.acquire("acme", size)
    limiter.acquire("acme", size, on_credit=True)  # another step's second request, after the turn was given
    time.sleep(turn.wait)
    later = limiter.acquire("acme", size, holds_turn=True)
    assert later.turn and 0.05 <= later.wait <= 0.1


def test_a_cooldown_wait_takes_nothing(redis_client, redis_prefix) -> None:  # type: ignore[no-untyped-def]
    limiter = RateLimiter(redis_client, redis_prefix)
    size = BucketSize(capacity=5, per_second=10)
    limiter.cooldown("acme", 1.0)
    grant = limiter.acquire("acme", size)
    assert grant.wait > 0.5 and not grant.turn
    assert "tokens" not in limiter.state("acme")  # the bucket was not touched


def test_a_failover_keeps_the_bucket_and_loads_the_script_on_the_new_master(sentinel_group, sentinel_settings) -> None:  # type: ignore[no-untyped-def]
    limiter = RateLimiter(connect_redis(sentinel_settings, socket_timeout=5, socket_connect_timeout=3), "failover:")
    size = BucketSize(capacity=3, per_second=0.01)
    assert [limiter.acquire("acme", size).wait for _ in range(2)] == [0, 0]
    assert limiter.client.wait(1, 5000) == 1  # the bucket has reached the replica
    new = sentinel_group.kill_master()
    with new.client() as direct:
        direct.script_flush()  # certain NOSCRIPT: the new master has never run the script
        assert limiter.acquire("acme", size).wait == 0  # the third token, from the bucket the replica kept
        assert limiter.acquire("acme", size).wait > 0
        assert direct.script_exists(limiter._acquire.sha) == [True]
