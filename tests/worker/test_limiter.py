"""The shared token bucket against a real Redis: one budget for every worker, cooldowns, header corrections."""

from __future__ import annotations

import threading

import fakeredis
import pytest

from possync.adapters.ratelimit import RateLimitInfo
from possync.worker.limiter import BucketSize, Grant, RateLimiter
from possync.worker.runtime import connect_redis


class Clock:
    """The bucket's clock, moved by the test: waits are asserted exactly, never timed."""

    def __init__(self) -> None:
        self.t = 1_800_000_000.0

    def __call__(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def limiter(redis_client, redis_prefix, clock: Clock) -> RateLimiter:  # type: ignore[no-untyped-def]
    return RateLimiter(redis_client, redis_prefix, now=clock)


def test_bucket_allows_capacity_then_asks_to_wait(limiter: RateLimiter, clock: Clock) -> None:
    size = BucketSize(capacity=5, per_second=10)
    waits = [limiter.acquire("acme", size).wait for _ in range(6)]
    assert waits == [0, 0, 0, 0, 0, 0.1]  # one token refills in 1/10 s
    clock.advance(0.1)
    assert limiter.acquire("acme", size, holds_turn=True) == Grant(0.0, False)


def test_without_a_clock_the_bucket_keeps_redis_time(redis_client, redis_prefix) -> None:  # type: ignore[no-untyped-def]
    limiter = RateLimiter(redis_client, redis_prefix)
    size = BucketSize(capacity=1, per_second=0.001)  # a refill of 1000 s: a stall between the calls cannot matter
    first, second = (limiter.acquire("acme", size).wait for _ in range(2))
    assert first == 0 and 990 < second <= 1000  # the refill left since the first call, by Redis' clock


def test_buckets_are_per_tenant(limiter: RateLimiter) -> None:
    size = BucketSize(capacity=1, per_second=0.5)
    assert limiter.acquire("a", size).wait == 0
    assert limiter.acquire("a", size).wait == 2.0
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


def test_headers_correct_the_bucket(limiter: RateLimiter) -> None:
    size = BucketSize(capacity=90, per_second=1)
    assert limiter.acquire("acme", size).wait == 0
    limiter.observe("acme", RateLimitInfo(capacity=20, level=19.5, drip_per_second=10))
    state = limiter.state("acme")
    assert state["capacity"] == 20 and state["rate"] == 10
    assert state["tokens"] == 0.5
    assert limiter.acquire("acme", size).wait == 0.05  # the half token left, refilled at 10/s
    limiter.observe("acme", RateLimitInfo(retry_after=1.0))
    assert limiter.acquire("acme", size).wait > 0.5


def test_a_refund_gives_back_what_the_vendor_did_not_keep(limiter: RateLimiter, clock: Clock) -> None:
    """Shopify: charged the requested points before sending, corrected by requested minus actual after."""
    size = BucketSize(capacity=100, per_second=10)
    assert limiter.acquire("shop", size, cost=62).wait == 0  # a search asks for 62 points ...
    limiter.observe("shop", RateLimitInfo(), refund=60)  # ... and keeps 2 when it finds nobody
    assert limiter.state("shop")["tokens"] == 98
    limiter.observe("shop", RateLimitInfo(), refund=500)  # never above the bucket's size
    assert limiter.state("shop")["tokens"] == 100
    limiter.observe("shop", RateLimitInfo(), refund=-10)  # it kept more than was charged
    assert limiter.state("shop")["tokens"] == 90
    clock.advance(0.5)  # the refill up to now is counted before the refund
    limiter.observe("shop", RateLimitInfo(), refund=-10)
    assert limiter.state("shop")["tokens"] == 85
    # The vendor's own reading still caps what the refund gave back.
    limiter.observe("shop", RateLimitInfo(capacity=100, level=95, drip_per_second=10), refund=6)
    assert limiter.state("shop")["tokens"] == 5


def test_embedded_mode_runs_the_same_script_on_fakeredis() -> None:
    limiter = RateLimiter(fakeredis.FakeRedis(), "demo:")
    size = BucketSize(capacity=2, per_second=1)
    assert [limiter.acquire("t", size).wait > 0 for _ in range(3)] == [False, False, True]


def test_on_credit_requests_always_pass_and_delay_the_next_caller(limiter: RateLimiter) -> None:
    size = BucketSize(capacity=1, per_second=10)
    assert limiter.acquire("acme", size).wait == 0
    assert [limiter.acquire("acme", size, on_credit=True).wait for _ in range(3)] == [0, 0, 0]
    assert limiter.acquire("acme", size).wait == 0.4  # three tokens of debt plus one to take, at 10/s


def test_the_vendors_request_cost_is_learnt(limiter: RateLimiter) -> None:
    """R-Series charges more than 1 unit for a request with relations: charging 1 would overrun it."""
    size = BucketSize(capacity=10, per_second=1)
    limiter.observe("acme", RateLimitInfo(capacity=10, level=0, drip_per_second=1, request_cost=2.0))
    waits = [limiter.acquire("acme", size).wait for _ in range(6)]
    assert waits == [0, 0, 0, 0, 0, 2.0]  # 5 requests of 2 units fill a bucket of 10; 2 units take 2 s


def test_waiting_callers_get_spaced_turns_and_go_ahead_of_newcomers(limiter: RateLimiter, clock: Clock) -> None:
    """A backlog wakes one caller per refill instead of every caller at once for a single token."""
    size = BucketSize(capacity=1, per_second=10)
    grants = [limiter.acquire("acme", size) for _ in range(5)]
    assert grants == [Grant(0.0, False), Grant(0.1, True), Grant(0.2, True), Grant(0.3, True), Grant(0.4, True)]
    clock.advance(0.1)
    assert limiter.acquire("acme", size, holds_turn=True) == Grant(0.0, False)  # the first turn goes
    assert limiter.acquire("acme", size) == Grant(0.4, True)  # a newcomer's turn comes after the last (0.5 s)


def test_callers_still_short_at_their_turn_get_next_turns_not_the_last(limiter: RateLimiter, clock: Clock) -> None:
    size = BucketSize(capacity=1, per_second=10)
    assert limiter.acquire("acme", size).wait == 0
    turns = [limiter.acquire("acme", size) for _ in range(5)]
    assert [g.wait for g in turns] == [0.1, 0.2, 0.3, 0.4, 0.5]
    limiter.acquire("acme", size, on_credit=True)  # two requests of running steps, uncounted by the turns
    limiter.acquire("acme", size, on_credit=True)
    clock.advance(0.1)  # the first turn comes: one token refilled, two owed
    short = [limiter.acquire("acme", size, holds_turn=True) for _ in range(2)]  # two holders come back
    assert short == [Grant(0.2, True), Grant(0.3, True)]  # their own turns, one request apart
    assert limiter.acquire("acme", size) == Grant(0.5, True)  # a newcomer goes behind the last turn given


def test_a_turn_is_delayed_by_requests_made_on_credit_meanwhile(limiter: RateLimiter, clock: Clock) -> None:
    """Tokens are taken when a request goes, so turns never let more through than the vendor allows."""
    size = BucketSize(capacity=1, per_second=10)
    assert limiter.acquire("acme", size).wait == 0
    turn = limiter.acquire("acme", size)
    assert turn == Grant(0.1, True)
    limiter.acquire("acme", size, on_credit=True)  # another step's second request, after the turn was given
    clock.advance(turn.wait)
    assert limiter.acquire("acme", size, holds_turn=True) == Grant(0.1, True)  # the credit's token, first
    clock.advance(0.1)
    assert limiter.acquire("acme", size, holds_turn=True) == Grant(0.0, False)


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


# --- sliding windows (a CRM's hourly budget plus its per-minute cap, SPEC rule 44) ------------------------
def test_windows_let_the_limit_through_then_book_the_next_place(limiter: RateLimiter, clock: Clock) -> None:
    from possync.worker.limiter import Window

    windows = (Window(3, 60.0),)
    waits = [limiter.acquire_windows("crm:acme", windows).wait for _ in range(5)]
    # Three go; the fourth is booked when the first leaves the window, the fifth when the second does.
    assert waits[:3] == [0, 0, 0] and waits[3] == pytest.approx(60.0) and waits[4] == pytest.approx(60.0)
    clock.advance(1.0)
    assert limiter.acquire_windows("crm:acme", windows).wait == pytest.approx(59.0)  # behind the booked ones


def test_no_window_is_ever_over_its_limit(limiter: RateLimiter, clock: Clock) -> None:
    """Booked times, replayed as sends: no 10 s span holds more than 4, no 60 s span more than 10."""
    from possync.worker.limiter import Window

    windows = (Window(10, 60.0), Window(4, 10.0))
    sends = []
    for _ in range(40):
        sends.append(clock() + limiter.acquire_windows("crm:acme", windows).wait)
        clock.advance(0.5)
    sends.sort()
    for i, at in enumerate(sends):
        assert sum(1 for s in sends[i:] if s < at + 10.0) <= 4
        assert sum(1 for s in sends[i:] if s < at + 60.0) <= 10


def test_a_429_cools_down_the_crm_bucket_only(limiter: RateLimiter, clock: Clock) -> None:
    from possync.worker.limiter import Window

    limiter.cooldown("crm:acme", 30.0)
    assert limiter.acquire_windows("crm:acme", (Window(5, 60.0),)).wait > 29.0
    assert limiter.acquire("pos:acme", BucketSize(5, 1.0)).wait == 0  # the POS of the same tenant goes on


def test_window_used_counts_what_went_this_hour(limiter: RateLimiter, clock: Clock) -> None:
    from possync.worker.limiter import crm_windows

    hour = crm_windows(1000)[0]
    for _ in range(7):
        limiter.acquire_windows("crm:acme", crm_windows(1000))
    assert limiter.window_used("crm:acme", hour) == 7
    clock.advance(3601.0)
    assert limiter.window_used("crm:acme", hour) == 0
def test_states_reads_many_buckets_at_once_as_state_reads_one(limiter: RateLimiter) -> None:
    limiter.acquire("acme", BucketSize(capacity=90, per_second=1))
    limiter.observe("busy", RateLimitInfo(retry_after=30.0))
    states = limiter.states(["acme", "busy", "never"])
    assert states["acme"] == limiter.state("acme") and states["acme"]["tokens"] == 89
    assert 29 < states["busy"]["cooldown_seconds"] <= 30
    assert states["never"] == {"cooldown_seconds": 0.0}


def test_a_size_learnt_larger_than_the_guess_is_not_paced_as_if_spent(limiter: RateLimiter) -> None:
    """X-Series: a fresh bucket counts against the starting guess (a burst of 50); once the headers say
    350 with 349 left, the 300 never spent are there: 60 requests in a row go without a wait (they used
    to wait from the 51st, for seconds, with 290 left in the vendor's window)."""
    size = BucketSize(capacity=50, per_second=350 / 300)
    waits = []
    for sent in range(60):
        waits.append(limiter.acquire("lsx", size).wait)
        limiter.observe("lsx", RateLimitInfo(capacity=350, level=sent + 1, drip_per_second=(349 - sent) / 300))
    assert waits == [0] * 60
    assert limiter.state("lsx")["tokens"] == 290  # never more than the vendor says is left
