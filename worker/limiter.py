"""The global rate limiter: an atomic Redis token bucket per tenant plus a cooldown key.

Celery's `rate_limit` is per worker process (celery#5732), so it cannot keep a fleet under a vendor's
account-wide limit. Every POS call first asks `acquire()`; a non-zero wait is one the task turns into
a retry with a countdown (never a sleep in a worker slot). Each wait is a turn of its own, spaced
by a request's cost behind the last one given, so 500 waiting jobs wake one at a time at the
vendor's pace rather than all together for one token (README, "Measurements of the code's history").
A 429 sets a cooldown every worker honours. Vendor headers correct the bucket's size and fill
(`observe()`), so a wrong guess below is a one-line change that the live headers fix anyway.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import redis

from possync.adapters.heartland import client as heartland
from possync.adapters.ratelimit import RateLimitInfo
from possync.models.tables import PosKind


@dataclass(frozen=True)
class Grant:
    """The limiter's answer: go now (`wait` 0, the cost taken), or come back after `wait` seconds;
    `turn`: the wait is a turn of the caller's own; come back with `acquire(..., holds_turn=True)`."""

    wait: float
    turn: bool


@dataclass(frozen=True)
class BucketSize:
    capacity: float
    per_second: float


# Starting sizes from the vendors' documented limits (pos-apis.md); headers correct them at run time.
DEFAULT_BUCKETS: dict[str, BucketSize] = {
    PosKind.LIGHTSPEED_R.value: BucketSize(90, 1.0),  # leaky bucket 90, drip 1/s (one register)
    PosKind.LIGHTSPEED_X.value: BucketSize(50, 350 / 300),  # 350 requests per 5 minutes, one register
    PosKind.HEARTLAND.value: BucketSize(heartland.ASSUMED_BURST, heartland.ASSUMED_REQUESTS_PER_SECOND),  # a guess
    # GraphQL Admin query-cost points per shop: the smallest bucket still quoted (1000 restoring 50/s);
    # every answer's `throttleStatus` gives the shop's real one (a standard plan today: 2000, 100/s).
    "shopify": BucketSize(1000, 50.0),
    # ShipStation V1: 40 requests per one-minute window per key pair; a spent window is a cooldown until
    # its reset (adapters/shipstation/client.py), so the drip only paces requests inside a window.
    "shipstation": BucketSize(40, 40 / 60),
}

@dataclass(frozen=True)
class Window:
    """At most `limit` requests in any `seconds` (a sliding window); `margin` s of slack against clock skew."""

    limit: int
    seconds: float
    margin: float = 0.0


def crm_windows(requests_per_hour: int, per_minute: int = 400, hour_seconds: float = 3600.0) -> tuple[Window, ...]:
    """A CRM's two windows (SPEC rule 44): its plan's hourly budget and the per-minute cap.

    `hour_seconds` scales the hour (and the minute with it) down for benchmarks.
    """
    minute = hour_seconds / 60.0
    # The margin covers the time between a place being given and the request reaching the vendor.
    return (Window(requests_per_hour, hour_seconds, min(1.0, hour_seconds * 0.01)),
            Window(per_minute, minute, min(0.5, minute * 0.01)))


_ACQUIRE = Path(__file__).with_name("token_bucket.lua").read_text()
_WINDOWS = Path(__file__).with_name("window_limit.lua").read_text()
_OBSERVE = Path(__file__).with_name("bucket_observe.lua").read_text()


class RateLimiter:
    """One per process; keys are `{prefix}rl:{tenant}` and `{prefix}cooldown:{tenant}`."""

    def __init__(self, client: redis.Redis, prefix: str = "", now: Callable[[], float] | None = None) -> None:
        """`now` (epoch s) replaces Redis `TIME` as the bucket's clock: tests drive it, so no wait is timed."""
        self.client = client
        self.prefix = prefix
        self.now = now
        self._acquire = client.register_script(_ACQUIRE)
        self._observe = client.register_script(_OBSERVE)
        self._windows = client.register_script(_WINDOWS)

    def _keys(self, tenant: str) -> list[str]:
        return [f"{self.prefix}rl:{tenant}", f"{self.prefix}cooldown:{tenant}"]

    def _now_ms(self) -> str:
        return "" if self.now is None else str(round(self.now() * 1000))

    def acquire(self, tenant: str, size: BucketSize, cost: float = 1.0, *, on_credit: bool = False,
                holds_turn: bool = False) -> Grant:
        """Take `cost` tokens and go now, or get a wait (a turn of its own; nothing taken yet).

        `holds_turn`: the caller has come back at its turn; if still short, its next turn comes from the
        sequence of such callers rather than behind every newcomer's.
        `on_credit` always goes now (the bucket may go below zero): for the later requests of one
        operation (Heartland's create is three calls), which must not be cut in half.
        """
        args = [size.capacity, size.per_second, cost, "1" if on_credit else "0", "1" if holds_turn else "0",
                self._now_ms()]
        wait_ms, turn = self._acquire(keys=self._keys(tenant), args=args)
        return Grant(int(wait_ms) / 1000.0, bool(int(turn)))

    def _window_key(self, bucket: str, window: Window) -> str:
        return f"{self.prefix}rlw:{bucket}:{window.seconds:g}"

    def acquire_windows(self, bucket: str, windows: tuple[Window, ...], *, on_credit: bool = False) -> Grant:
        """Go now, or get a wait after which the caller goes without asking again: its place is booked.

        For a destination whose limits are windows rather than a bucket (the CRM). `on_credit` goes now
        whatever the windows say (the later requests of one operation); it still counts.
        """
        keys = [self._window_key(bucket, w) for w in windows] + [self._keys(bucket)[1]]
        args: list[int | str] = [self._now_ms(), uuid.uuid4().hex, "1" if on_credit else "0"]
        for window in windows:
            args += [window.limit, round((window.seconds + window.margin) * 1000)]
        wait_ms = int(self._windows(keys=keys, args=args))
        return Grant(wait_ms / 1000.0, wait_ms > 0)

    def window_used(self, bucket: str, window: Window) -> int:
        """Requests sent (or booked) in the window ending now."""
        now = self.now() if self.now is not None else time.time()
        return int(self.client.zcount(self._window_key(bucket, window), (now - window.seconds) * 1000, "+inf"))

    def cooldown(self, tenant: str, seconds: float) -> None:
        """After a 429: every worker waits `seconds` before the next call for this tenant."""
        if seconds > 0:
            self.client.set(self._keys(tenant)[1], "1", px=max(1, int(seconds * 1000)))

    def cooldown_left(self, tenant: str) -> float:
        return max(0, self.client.pttl(self._keys(tenant)[1])) / 1000.0

    def observe(self, tenant: str, info: RateLimitInfo, refund: float = 0.0) -> None:
        """Correct the bucket from the vendor's own reading: its size, its drip and how full it is.

        `refund`: what the vendor gave back of the cost charged before the request (Shopify returns
        requested minus actual points; a refused query kept nothing); negative when it kept more.
        """
        def arg(value: float | None) -> str:
            return "" if value is None else repr(float(value))

        capacity = info.capacity or None
        rate = info.drip_per_second or None
        if capacity or rate or info.remaining is not None or info.request_cost or refund:
            self._observe(keys=self._keys(tenant)[:1],
                          args=[arg(capacity), arg(rate), arg(info.remaining), arg(info.request_cost),
                                arg(refund or None), self._now_ms()])
        if info.retry_after:
            self.cooldown(tenant, info.retry_after)

    def state(self, tenant: str) -> dict[str, float]:
        return self.states([tenant])[tenant]

    def states(self, tenants: list[str]) -> dict[str, dict[str, float]]:
        """Each bucket and cooldown, in one round trip however many tenants (`possync status`)."""
        pipe = self.client.pipeline(transaction=False)
        for tenant in tenants:
            bucket, cooldown = self._keys(tenant)
            pipe.hgetall(bucket)
            pipe.pttl(cooldown)
        replies = pipe.execute()
        states = {}
        for index, tenant in enumerate(tenants):
            raw, ttl = replies[2 * index], replies[2 * index + 1]
            states[tenant] = {k.decode(): float(v) for k, v in raw.items()}
            states[tenant]["cooldown_seconds"] = max(0, ttl) / 1000.0
        return states
