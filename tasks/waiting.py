"""Waiting in a CLI process (a worker never sleeps: it sends its task again with a countdown).

Every command that talks to a vendor (`possync poll`, `tenant import` and `preview`, `crm backfill`,
`shopify duplicates`, `shipstation` reads) waits out the rate limit and retries transient failures
here, renewing what it holds (a Redis lock) so that a long wait is not mistaken for a dead process.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import TypeVar

from possync.adapters.errors import RateLimitedError, RetryableError
from possync.tasks.runner import backoff

MAX_SLICE_SECONDS = 30.0  # what is held is renewed at least this often
JITTER_SECONDS = 0.1
TRANSIENT_TRIES = 6
TRANSIENT_BACKOFF_CAP_SECONDS = 30.0
T = TypeVar("T")
Sleep = Callable[[float], None]
Renew = Callable[[], object]


def sleep_holding(seconds: float, renew: Renew | None = None, *, sleep: Sleep = time.sleep) -> None:
    """Sleep `seconds`, calling `renew` (a Redis lock's `reacquire`) before each slice."""
    left = seconds
    while left > 0:
        if renew is not None:
            renew()
        step = min(left, MAX_SLICE_SECONDS)
        sleep(step)
        left -= step


def wait_out(exc: RateLimitedError, renew: Renew | None = None, longest: float | None = None, *,
             sleep: Sleep = time.sleep) -> None:
    """Sleep until the rate limit's turn (at most `longest` s), renewing what the caller holds."""
    seconds = exc.countdown(jitter=random.uniform(0, JITTER_SECONDS))
    sleep_holding(seconds if longest is None else min(seconds, longest), renew, sleep=sleep)


def patiently(request: Callable[[], T], *, sleep: Sleep = time.sleep, renew: Renew | None = None,
              tries: int = TRANSIENT_TRIES, backoff_cap: float = TRANSIENT_BACKOFF_CAP_SECONDS) -> T:
    """A command's request (a page of a listing, a CRM upsert, a whole import): a rate limit, the vendor's
    or possync's, is waited out as it says; a transient failure is retried with back-off, `tries` at most."""
    failures = 0
    while True:
        try:
            return request()
        except RateLimitedError as exc:
            wait_out(exc, renew, sleep=sleep)
        except RetryableError:
            failures += 1
            if failures >= tries:
                raise
            sleep_holding(backoff(failures, backoff_cap), renew, sleep=sleep)
