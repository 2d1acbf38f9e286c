"""Heartland rate-limit header parsing: `Retry-After` in seconds or as a date, generic headers if sent."""

from __future__ import annotations

import email.utils
import time

import pytest

from possync.adapters.heartland.client import parse_rate_limit


def test_429_with_seconds() -> None:
    info = parse_rate_limit(429, {"Retry-After": "5"})
    assert info is not None and info.retry_after == 5.0 and info.capacity is None


def test_429_with_an_http_date() -> None:
    info = parse_rate_limit(429, {"retry-after": email.utils.formatdate(time.time() + 20, usegmt=True)})
    assert info is not None and info.retry_after == pytest.approx(20, abs=2)


def test_429_without_retry_after_still_gives_a_reading() -> None:
    """So the base client never reuses the wait of an earlier 429."""
    info = parse_rate_limit(429, {})
    assert info is not None and info.retry_after is None


@pytest.mark.parametrize("value", ["soon", "", "-3"], ids=["words", "empty", "negative"])
def test_junk_retry_after(value: str) -> None:
    info = parse_rate_limit(429, {"Retry-After": value})
    assert info is not None and info.retry_after in (None, 0.0)


def test_ordinary_response_without_headers_has_no_reading() -> None:
    assert parse_rate_limit(200, {"Content-Type": "application/json"}) is None


def test_generic_limit_headers_case_insensitive() -> None:
    info = parse_rate_limit(200, {"x-ratelimit-limit": "100", "X-RATELIMIT-REMAINING": "40"})
    assert info is not None
    assert (info.capacity, info.level, info.remaining, info.retry_after) == (100.0, 60.0, 40.0, None)
