"""Waiting in a CLI process (a worker never sleeps: it sends its task again with a countdown).

`possync poll` and `possync tenant import` both wait out the tenant's rate limit here, and the import
also its back-off after a transient error, renewing the lock it holds so a long wait is not mistaken
for a dead process.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable

from possync.adapters.errors import RateLimitedError

MAX_SLICE_SECONDS = 30.0  # what is held is renewed at least this often
JITTER_SECONDS = 0.1


def sleep_holding(seconds: float, renew: Callable[[], object] | None = None) -> None:
    """Sleep `seconds`, calling `renew` (a Redis lock's `reacquire`) before each slice."""
    end = time.monotonic() + seconds
    while (left := end - time.monotonic()) > 0:
        if renew is not None:
            renew()
        time.sleep(min(left, MAX_SLICE_SECONDS))


def wait_out(exc: RateLimitedError, renew: Callable[[], object] | None = None, longest: float | None = None) -> None:
    """Sleep until the rate limit's turn (at most `longest` s), renewing what the caller holds."""
    seconds = exc.countdown(jitter=random.uniform(0, JITTER_SECONDS))
    sleep_holding(seconds if longest is None else min(seconds, longest), renew)
