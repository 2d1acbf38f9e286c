"""Rate limits the fakes enforce, so clients and the shared limiter meet real 429s in tests."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class Verdict:
    allowed: bool
    level: float  # used capacity after this request (bucket) or requests in the window
    capacity: float
    retry_after: float  # seconds until a request of the same cost would be allowed


class LeakyBucket:
    """R-Series style: a bucket of `capacity` draining `drip_per_second`.

    As the vendor documents, the request that would overflow the bucket is still allowed; the
    requests after it get 429 until the level has dropped.
    """

    def __init__(self, capacity: float, drip_per_second: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.capacity = capacity
        self.drip = drip_per_second
        self.level = 0.0
        self._clock = clock
        self._at = clock()
        self._lock = threading.Lock()

    def _drain(self) -> None:
        now = self._clock()
        self.level = max(0.0, self.level - (now - self._at) * self.drip)
        self._at = now

    def take(self, cost: float = 1.0) -> Verdict:
        with self._lock:
            self._drain()
            if self.level >= self.capacity:
                wait = (self.level - self.capacity + cost) / self.drip
                return Verdict(False, self.level, self.capacity, wait)
            self.level += cost
            return Verdict(True, self.level, self.capacity, 0.0)


class WindowLimit:
    """X-Series style: at most `limit` requests per fixed window of `window_seconds`."""

    def __init__(self, limit: int, window_seconds: float, clock: Callable[[], float] = time.time) -> None:
        self.limit = limit
        self.window = window_seconds
        self._clock = clock
        self._start = clock()
        self.count = 0
        self._lock = threading.Lock()

    @property
    def reset_at(self) -> float:
        return self._start + self.window

    def reset_in(self) -> float:
        """Seconds until the current window ends (0 once it has)."""
        return max(0.0, self._start + self.window - self._clock())

    def take(self, cost: float = 1.0) -> Verdict:
        with self._lock:
            now = self._clock()
            if now >= self._start + self.window:
                self._start, self.count = now, 0
            if self.count >= self.limit:
                return Verdict(False, self.count, self.limit, self._start + self.window - now)
            self.count += 1
            return Verdict(True, self.count, self.limit, 0.0)
