"""X-Series rate-limit headers -> `RateLimitInfo` (window headers, Retry-After as an HTTP date)."""

from __future__ import annotations

import email.utils

import pytest

from adapters.lightspeed_x.client import WINDOW_SECONDS, parse_rate_limit_headers

NOW = 1_800_000_000.0


def test_window_headers_give_capacity_level_and_drip() -> None:
    info = parse_rate_limit_headers({"X-RateLimit-Limit": "350", "X-RateLimit-Remaining": "340"}, 200, now=NOW)
    assert info is not None
    assert info.capacity == 350 and info.level == 10 and info.remaining == 340
    assert info.drip_per_second == pytest.approx(350 / WINDOW_SECONDS)
    assert info.retry_after is None


def test_header_names_are_case_insensitive() -> None:
    info = parse_rate_limit_headers({"x-ratelimit-limit": "650", "x-ratelimit-remaining": "1"}, 200, now=NOW)
    assert info is not None and info.capacity == 650 and info.level == 649


def test_retry_after_http_date() -> None:
    """X-Series sends an RFC 1123 date, not seconds: int() of it would raise."""
    headers = {"Retry-After": email.utils.formatdate(NOW + 42, usegmt=True), "X-RateLimit-Limit": "350",
               "X-RateLimit-Remaining": "0"}  # fmt: skip
    info = parse_rate_limit_headers(headers, 429, now=NOW)
    assert info is not None and info.retry_after == pytest.approx(42)


def test_retry_after_date_in_the_past_is_zero() -> None:
    info = parse_rate_limit_headers({"Retry-After": "Wed, 15 Jul 2020 15:04:05 GMT"}, 429, now=NOW)
    assert info is not None and info.retry_after == 0.0


def test_retry_after_in_seconds_is_accepted_too() -> None:
    info = parse_rate_limit_headers({"Retry-After": "7"}, 429, now=NOW)
    assert info is not None and info.retry_after == 7.0


def test_exhausted_window_without_retry_after_waits_for_reset() -> None:
    headers = {"X-RateLimit-Limit": "350", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(int(NOW + 90))}
    info = parse_rate_limit_headers(headers, 200, now=NOW)
    assert info is not None and info.retry_after == pytest.approx(90)


def test_reset_is_ignored_while_the_window_has_room() -> None:
    headers = {"X-RateLimit-Limit": "350", "X-RateLimit-Remaining": "3", "X-RateLimit-Reset": str(int(NOW + 90))}
    info = parse_rate_limit_headers(headers, 200, now=NOW)
    assert info is not None and info.retry_after is None


def test_no_headers_is_no_reading_except_on_429() -> None:
    assert parse_rate_limit_headers({"Content-Type": "application/json"}, 200, now=NOW) is None
    info = parse_rate_limit_headers({}, 429, now=NOW)
    assert info is not None and info.retry_after is None  # the base client then waits its default


def test_junk_values_are_ignored() -> None:
    headers = {"X-RateLimit-Limit": "lots", "X-RateLimit-Remaining": "nan", "Retry-After": "soon"}
    assert parse_rate_limit_headers(headers, 200, now=NOW) is None
