"""Leaky-bucket header parsing, and the fake's real 429s reaching the adapter as `RateLimitedError`."""

from __future__ import annotations

import email.utils
import time
from collections.abc import Callable

import pytest

from possync.adapters.errors import RateLimitedError
from possync.adapters.lightspeed_r import LightspeedRAdapter
from possync.adapters.lightspeed_r.client import rate_limit_from_headers
from possync.adapters.lightspeed_r.fake import FakeServer
from possync.adapters.ratelimit import RateLimitInfo
from tests.adapters.lightspeed_r.helpers import running


def test_bucket_headers_on_a_normal_answer() -> None:
    info = rate_limit_from_headers(
        {"X-LS-API-Bucket-Level": "92.57/90", "X-LS-API-Drip-Rate": "2", "X-LS-API-Request-Cost": "1"}, 200
    )
    assert info == RateLimitInfo(
        capacity=90.0, level=92.57, drip_per_second=2.0, retry_after=None, request_cost=1.0
    )
    assert info.remaining == 0.0


def test_header_names_are_case_insensitive() -> None:
    info = rate_limit_from_headers({"x-ls-api-bucket-level": "1.5/90", "X-Ls-Api-Drip-Rate": "1"}, 200)
    assert info is not None and (info.level, info.capacity, info.drip_per_second) == (1.5, 90.0, 1.0)


def test_no_headers_on_a_normal_answer_is_no_reading() -> None:
    assert rate_limit_from_headers({"Content-Type": "application/json"}, 200) is None


def test_retry_after_seconds_on_429() -> None:
    info = rate_limit_from_headers(
        {"Retry-After": "7", "X-LS-API-RateLimit-Type": "api-leaky-bucket", "X-LS-API-Bucket-Level": "91/90"}, 429
    )
    assert info is not None and info.retry_after == 7.0


def test_retry_after_as_http_date_on_429() -> None:
    when = email.utils.formatdate(time.time() + 30, usegmt=True)
    info = rate_limit_from_headers({"Retry-After": when}, 429)
    assert info is not None and 25 <= (info.retry_after or 0) <= 31


def test_burst_limiter_waits_at_least_a_second() -> None:
    info = rate_limit_from_headers({"X-LS-API-RateLimit-Type": "api-burst-limiter", "Retry-After": "0"}, 429)
    assert info is not None and info.retry_after == 1.0
    info = rate_limit_from_headers({"x-ls-api-ratelimit-type": "API-BURST-LIMITER"}, 429)
    assert info is not None and info.retry_after == 1.0


def test_429_without_retry_after_waits_for_the_bucket_to_drain() -> None:
    info = rate_limit_from_headers({"X-LS-API-Bucket-Level": "95/90", "X-LS-API-Drip-Rate": "2"}, 429)
    assert info is not None and info.retry_after == 3.0  # (95 - 90 + 1) / 2


def test_429_without_any_header_still_gives_a_fresh_reading() -> None:
    """So an older reading's wait is never reused for a new 429."""
    assert rate_limit_from_headers({}, 429) == RateLimitInfo()


@pytest.mark.parametrize(
    "headers",
    [{"X-LS-API-Bucket-Level": "lots"}, {"X-LS-API-Drip-Rate": "fast"}, {"X-LS-API-Drip-Rate": "0"}],
    ids=["level-junk", "drip-junk", "drip-zero"],
)
def test_junk_values_are_ignored(headers: dict[str, str]) -> None:
    info = rate_limit_from_headers(headers, 200)
    assert info is None or (info.level is None and info.drip_per_second is None)


def test_every_fake_answer_carries_the_bucket_headers(fake: FakeServer, adapter: LightspeedRAdapter) -> None:
    adapter.get_customer("1")
    info = adapter.stats.last_rate_limit
    assert info is not None and info.capacity == 90.0 and info.drip_per_second == 1.0
    assert info.level == pytest.approx(1.3, abs=0.05)  # 1 + Contact (0.1) + Tags (0.2)


def test_real_429_from_the_leaky_bucket(make: Callable[..., LightspeedRAdapter]) -> None:
    with running(FakeServer(bucket_size=3, drip_rate=0.5)) as server:
        adapter = make(server)
        with pytest.raises(RateLimitedError) as caught:
            for _ in range(6):
                adapter.get_customer("1")
        assert 1.0 <= caught.value.retry_after <= 5.0
        assert caught.value.http_status == 429
        assert server.count_requests() == 4  # the request that overflows is still let in (docs)
        log = server.vendor_requests()
        assert [r.status for r in log] == [404, 404, 404, 429]


def test_real_429_from_the_burst_limiter(make: Callable[..., LightspeedRAdapter]) -> None:
    with running(FakeServer(bucket_size=None, burst_limit=2, clock=lambda: 1_000_000.0)) as server:
        adapter = make(server)
        adapter.get_customer("1")
        adapter.get_customer("1")
        with pytest.raises(RateLimitedError) as caught:
            adapter.get_customer("1")
        assert caught.value.retry_after >= 1.0
        assert "burst rate limit exceeded" in str(caught.value)


def test_rate_limit_switched_off_never_429s(make: Callable[..., LightspeedRAdapter]) -> None:
    with running(FakeServer(bucket_size=None)) as server:
        adapter = make(server)
        for _ in range(120):
            adapter.get_customer("1")
        assert adapter.stats.by_status == {404: 120}
