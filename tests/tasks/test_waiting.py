"""The one wait of a command (`possync.tasks.waiting`): rate limits waited out as they say, transient
failures retried with back-off a bounded number of times, what the command holds renewed meanwhile."""

from __future__ import annotations

import pytest

from possync.adapters.errors import RateLimitedError, RetryableError
from possync.tasks import waiting


def failing(*errors: Exception, result: str = "page"):  # type: ignore[no-untyped-def]
    left = list(errors)
    calls: list[int] = []

    def request() -> str:
        calls.append(1)
        if left:
            raise left.pop(0)
        return result

    return request, calls


def test_a_rate_limit_is_waited_out_as_it_says_and_never_counts_as_a_failure() -> None:
    slept: list[float] = []
    request, calls = failing(*[RateLimitedError("429", retry_after=3.0) for _ in range(10)])
    assert waiting.patiently(request, sleep=slept.append, tries=2) == "page"
    assert len(calls) == 11 and len(slept) == 10
    assert all(3.0 <= s <= 3.0 + waiting.JITTER_SECONDS for s in slept)


def test_transient_failures_back_off_then_the_last_try_raises() -> None:
    slept: list[float] = []
    request, calls = failing(*[RetryableError("503") for _ in range(3)])
    with pytest.raises(RetryableError):
        waiting.patiently(request, sleep=slept.append, tries=3, backoff_cap=5)
    assert len(calls) == 3 and len(slept) == 2 and all(0 < s <= 5 for s in slept)
    request, calls = failing(RetryableError("503"), RetryableError("503"))
    assert waiting.patiently(request, sleep=slept.append, tries=3) == "page"


def test_a_long_wait_renews_what_is_held_every_slice() -> None:
    slept: list[float] = []
    renewed: list[int] = []
    request, _ = failing(RateLimitedError("429", retry_after=70.0))
    waiting.patiently(request, sleep=slept.append, renew=lambda: renewed.append(1))
    assert sum(slept) == pytest.approx(70.0, abs=waiting.JITTER_SECONDS)
    assert max(slept) <= waiting.MAX_SLICE_SECONDS and len(renewed) == len(slept) == 3


def test_wait_out_never_waits_longer_than_asked() -> None:
    slept: list[float] = []
    waiting.wait_out(RateLimitedError("429", retry_after=60.0), longest=5.0, sleep=slept.append)
    assert slept == [5.0]
