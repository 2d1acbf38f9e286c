"""Vendor rate-limit headers, parsed into one value the shared limiter can use.

Each vendor reports its budget differently (R-Series a leaky bucket level, X-Series a window with a
remaining count, everyone a `Retry-After` in seconds or as an HTTP date). `RateLimitInfo` is the
common reading: how big the bucket is, how full, how fast it drains, and how long to wait now.
"""

from __future__ import annotations

import email.utils
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class RateLimitInfo:
    capacity: float | None = None  # requests the bucket (or window) holds
    level: float | None = None  # how many are used now
    drip_per_second: float | None = None  # how fast used capacity comes back
    retry_after: float | None = None  # seconds to wait before the next request, when told
    request_cost: float | None = None  # what the last request cost in bucket units, when told

    @property
    def remaining(self) -> float | None:
        if self.capacity is None or self.level is None:
            return None
        return max(0.0, self.capacity - self.level)


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """`Retry-After` as delta-seconds (`"5"`, `"1.5"`) or an HTTP date (X-Series); None if absent or junk."""
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def parse_fraction(value: str | None) -> tuple[float, float] | None:
    """`"92.57/90"` -> (92.57, 90.0); None for anything else."""
    if not value or "/" not in value:
        return None
    used, _, total = value.partition("/")
    try:
        return float(used), float(total)
    except ValueError:
        return None


def header(headers: Mapping[str, str], name: str) -> str | None:
    """Case-insensitive header lookup (vendors document headers in mixed case)."""
    lowered = name.lower()
    for key, value in headers.items():
        if key.lower() == lowered:
            return value
    return None


def header_number(value: str | None) -> float | None:
    """A numeric header (`"40"`, `"1.5"`) as a finite float; None if absent or junk."""
    if value is None:
        return None
    try:
        number = float(value.strip())
    except ValueError:
        return None
    return number if math.isfinite(number) else None
