"""X-Series rate-limit headers -> `RateLimitInfo` (window headers, Retry-After as an HTTP date)."""

from __future__ import annotations

import email.utils

import pytest
import requests

from possync.adapters.lightspeed_x.client import WINDOW_SECONDS, parse_rate_limit_headers
from possync.adapters.lightspeed_x.fake import FakeServer

NOW = 1_800_000_000.0


def test_window_headers_without_a_reset_give_capacity_level_and_the_documented_windows_pace() -> None:
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


@pytest.mark.parametrize("reset", [str(int(NOW + 60)), "60"], ids=["epoch", "seconds"])
def test_the_pace_spreads_the_requests_left_over_the_seconds_until_the_reset_in_either_form(reset: str) -> None:
    headers = {"X-RateLimit-Limit": "350", "X-RateLimit-Remaining": "300", "X-RateLimit-Reset": reset}
    info = parse_rate_limit_headers(headers, 200, now=NOW)
    assert info is not None and info.drip_per_second == pytest.approx(300 / 60) and info.retry_after is None


@pytest.mark.parametrize("reset", [str(int(NOW + 20)), "20"], ids=["epoch", "seconds"])
def test_an_exhausted_window_waits_for_its_reset_when_the_whole_limit_is_back(reset: str) -> None:
    headers = {"X-RateLimit-Limit": "350", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": reset}
    info = parse_rate_limit_headers(headers, 200, now=NOW)
    assert info is not None and info.retry_after == pytest.approx(20)
    assert info.drip_per_second == pytest.approx(350 / 20)


@pytest.mark.parametrize("form", ["epoch", "seconds"])
def test_the_fakes_window_is_paced_from_its_reset_header_not_the_documented_300_s(form: str) -> None:
    """The fake's window is 20 s: the pace read from its answers is its own, whichever form `Reset` takes."""
    fake = FakeServer(rate_limit=10, window_seconds=20, clock=lambda: NOW, reset_form=form)
    fake.start()
    try:
        def get() -> requests.Response:
            return requests.get(f"{fake.url}/api/2.0/customers", timeout=5,
                                headers={"Authorization": f"Bearer {FakeServer.DEFAULT_TOKEN}"})

        first = parse_rate_limit_headers(get().headers, 200, now=NOW)
        assert first is not None and first.drip_per_second == pytest.approx(9 / 20)
        for _ in range(9):
            get()
        refused = get()
        assert refused.status_code == 429
        info = parse_rate_limit_headers(refused.headers, 429, now=NOW)
        assert info is not None and info.retry_after == pytest.approx(20)
        assert info.drip_per_second == pytest.approx(10 / 20)
    finally:
        fake.stop()
