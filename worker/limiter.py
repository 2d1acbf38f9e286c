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

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import redis

from adapters.heartland import client as heartland
from adapters.ratelimit import RateLimitInfo
from models.tables import PosKind


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
}

_ACQUIRE = Path(__file__).with_name("token_bucket.lua").read_text()
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
        raw = self.client.hgetall(self._keys(tenant)[0])
        state = {k.decode(): float(v) for k, v in raw.items()}
        state["cooldown_seconds"] = self.cooldown_left(tenant)
        return state
