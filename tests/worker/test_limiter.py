"""The shared token bucket against a real Redis: one budget for every worker, cooldowns, header corrections."""

from __future__ import annotations

import threading

import fakeredis

from adapters.ratelimit import RateLimitInfo
from worker.limiter import BucketSize, RateLimiter


def test_bucket_allows_capacity_then_asks_to_wait(redis_client, redis_prefix) -> None:  # type: ignore[no-untyped-def]
    limiter = RateLimiter(redis_client, redis_prefix)
    size = BucketSize(capacity=5, per_second=10)
    waits = [limiter.acquire("acme", size) for _ in range(6)]
    assert waits[:5] == [0, 0, 0, 0, 0]
    assert 0 < waits[5] <= 0.1


def test_buckets_are_per_tenant(redis_client, redis_prefix) -> None:  # type: ignore[no-untyped-def]
    limiter = RateLimiter(redis_client, redis_prefix)
    size = BucketSize(capacity=1, per_second=0.5)
    assert limiter.acquire("a", size) == 0
    assert limiter.acquire("a", size) > 0
    assert limiter.acquire("b", size) == 0


def test_many_threads_share_one_budget(redis_client, redis_prefix) -> None:  # type: ignore[no-untyped-def]
    limiter = RateLimiter(redis_client, redis_prefix)
    size = BucketSize(capacity=20, per_second=0.01)
    allowed = []

    def worker() -> None:
        for _ in range(10):
            if limiter.acquire("acme", size) == 0:
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
    wait = limiter.acquire("acme", size)
    assert 1.5 < wait <= 2.0
    assert limiter.acquire("other", size) == 0


def test_headers_correct_the_bucket(redis_client, redis_prefix) -> None:  # type: ignore[no-untyped-def]
    limiter = RateLimiter(redis_client, redis_prefix)
    size = BucketSize(capacity=90, per_second=1)
    assert limiter.acquire("acme", size) == 0
    limiter.observe("acme", RateLimitInfo(capacity=20, level=19.5, drip_per_second=10))
    state = limiter.state("acme")
    assert state["capacity"] == 20 and state["rate"] == 10
    assert state["tokens"] <= 0.6
    limiter.observe("acme", RateLimitInfo(retry_after=1.0))
    assert limiter.acquire("acme", size) > 0.5


def test_embedded_mode_runs_the_same_script_on_fakeredis() -> None:
    limiter = RateLimiter(fakeredis.FakeRedis(), "demo:")
    size = BucketSize(capacity=2, per_second=1)
    assert [limiter.acquire("t", size) > 0 for _ in range(3)] == [False, False, True]


def test_on_credit_requests_always_pass_and_delay_the_next_caller(redis_client, redis_prefix) -> None:  # type: ignore[no-untyped-def]
    limiter = RateLimiter(redis_client, redis_prefix)
    size = BucketSize(capacity=1, per_second=10)
    assert limiter.acquire("acme", size) == 0
    assert [limiter.acquire("acme", size, on_credit=True) for _ in range(3)] == [0, 0, 0]
    wait = limiter.acquire("acme", size)
    assert 0.3 < wait <= 0.41  # three tokens of debt plus one to take, at 10/s


def test_the_vendors_request_cost_is_learnt(redis_client, redis_prefix) -> None:  # type: ignore[no-untyped-def]
    """R-Series charges more than 1 unit for a request with relations: charging 1 would overrun it."""
    limiter = RateLimiter(redis_client, redis_prefix)
    size = BucketSize(capacity=10, per_second=0.01)
    limiter.observe("acme", RateLimitInfo(capacity=10, level=0, drip_per_second=0.01, request_cost=2.0))
    waits = [limiter.acquire("acme", size) for _ in range(6)]
    assert waits[:5] == [0, 0, 0, 0, 0] and waits[5] > 0  # 5 requests of 2 units fill a bucket of 10
