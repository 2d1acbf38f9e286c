"""Heartland's error table over real HTTP: (status, headers, body) -> exception, action and wait."""

from __future__ import annotations

import email.utils
import socket
import time
from typing import Any

import pytest

from possync.adapters.errors import (
    AdapterError,
    AuthenticationError,
    BadResponseError,
    ErrorAction,
    FatalError,
    RateLimitedError,
    RetryableError,
)
from possync.adapters.heartland import HeartlandAdapter, HeartlandClient
from possync.adapters.heartland.adapter import HeartlandAdapter as Adapter
from possync.adapters.heartland.fake import FakeServer
from tests.adapters.heartland.conftest import AdapterFactory

IN_30_S = "<an HTTP date 30 s from now>"  # made when the test runs: collection takes seconds

CASES: list[tuple[str, int, dict[str, str], Any, type[AdapterError], ErrorAction, float | None, str]] = [
    ("400-bad-request", 400, {}, {"message": "bad filter"}, FatalError, ErrorAction.FATAL, None, "bad filter"),
    ("401-token-revoked", 401, {}, {"message": "Unauthorized"}, AuthenticationError, ErrorAction.FATAL, None,
     "API token"),
    ("403-no-permission", 403, {}, {"message": "Forbidden"}, FatalError, ErrorAction.FATAL, None, "permission"),
    ("409-conflict", 409, {}, None, FatalError, ErrorAction.FATAL, None, "conflicts"),
    ("422-validation-names-fields", 422, {}, {"message": "Validation failed", "errors": {"last_name": ["is bad"]}},
     FatalError, ErrorAction.FATAL, None, "last_name (is bad)"),
    ("422-hides-personal-echo", 422, {}, {"errors": {"email": ["jane@example.com is taken"]}}, FatalError,
     ErrorAction.FATAL, None, "fields: email"),
    ("429-retry-after-seconds", 429, {"Retry-After": "7"}, None, RateLimitedError, ErrorAction.RATE_LIMITED, 7.0,
     "rate limit"),
    ("429-retry-after-http-date", 429, {"Retry-After": IN_30_S}, None, RateLimitedError,
     ErrorAction.RATE_LIMITED, 30.0, "rate limit"),
    ("429-fake-default-retry-after", 429, {}, None, RateLimitedError, ErrorAction.RATE_LIMITED, 1.0, "rate limit"),
    ("429-without-retry-after", 429, {"Retry-After": ""}, None, RateLimitedError, ErrorAction.RATE_LIMITED, 1.0,
     "rate limit"),
    ("500-internal", 500, {}, None, RetryableError, ErrorAction.RETRY, None, "internal error"),
    ("502-bad-gateway", 502, {}, None, RetryableError, ErrorAction.RETRY, None, "gateway"),
    ("503-unavailable", 503, {"Retry-After": "5"}, None, RetryableError, ErrorAction.RETRY, None, "unavailable"),
    ("504-gateway-timeout", 504, {}, None, RetryableError, ErrorAction.RETRY, None, "timeout"),
    ("200-not-an-object", 200, {}, "surprise", BadResponseError, ErrorAction.FATAL, None, "customer"),
    ("200-active-missing", 200, {}, {"id": 1, "email": "a@b.co"}, BadResponseError, ErrorAction.FATAL, None,
     "'active'"),
    ("200-id-wrong-type", 200, {}, {"id": [1], "active": True}, BadResponseError, ErrorAction.FATAL, None, "'id'"),
    ("200-email-wrong-type", 200, {}, {"id": 1, "active": True, "email": 5}, BadResponseError, ErrorAction.FATAL,
     None, "'email'"),
    ("200-bad-timestamp", 200, {}, {"id": 1, "active": True, "updated_at": "monday"}, BadResponseError,
     ErrorAction.FATAL, None, "'updated_at'"),
]


@pytest.mark.parametrize(
    ("status", "headers", "body", "exc_class", "action", "retry_after", "says"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_error_table(
    adapter: HeartlandAdapter,
    fake: FakeServer,
    status: int,
    headers: dict[str, str],
    body: Any,
    exc_class: type[AdapterError],
    action: ErrorAction,
    retry_after: float | None,
    says: str,
) -> None:
    if headers.get("Retry-After") == IN_30_S:
        headers = {"Retry-After": email.utils.formatdate(time.time() + 30, usegmt=True)}
    fake.inject(status, headers=headers, body=body)
    with pytest.raises(AdapterError) as info:
        adapter.get_customer("1")
    error = info.value
    assert type(error) is exc_class
    assert error.action is action
    assert error.vendor == "heartland" and error.endpoint == "GET /api/customers/{id}"
    assert says in str(error)
    assert "jane@example.com" not in str(error)
    if retry_after is not None:
        assert isinstance(error, RateLimitedError)
        assert error.retry_after == pytest.approx(retry_after, abs=2.0)
    if status >= 400:
        assert error.http_status == status


def test_list_body_without_results_is_a_bad_response(adapter: HeartlandAdapter, fake: FakeServer) -> None:
    fake.inject(200, body={"total": 1, "pages": 1})
    with pytest.raises(BadResponseError, match="'results'"):
        adapter.search_by_email("a@example.com")
    fake.inject(200, body={"results": [1, 2]})
    with pytest.raises(BadResponseError, match=r"results\[\]"):
        adapter.changes_since(None)


def test_wrong_token_is_an_authentication_error(make: AdapterFactory, fake: FakeServer) -> None:
    with pytest.raises(AuthenticationError) as info:
        make(token="wrong").get_customer("1")
    assert info.value.http_status == 401
    assert fake.count_requests() == 1  # no refresh to try: one request, then stop


def test_a_real_429_from_the_fakes_window(adapter: HeartlandAdapter, fake: FakeServer) -> None:
    fake.set_rate_limit(2, 60.0)
    adapter.get_customer("1")
    adapter.get_customer("1")
    with pytest.raises(RateLimitedError) as info:
        adapter.get_customer("1")
    assert 55 <= info.value.retry_after <= 60
    assert adapter.stats.by_status[429] == 1
    assert adapter.stats.last_rate_limit is not None and adapter.stats.last_rate_limit.retry_after == 60


def test_a_timeout_is_retryable(fake: FakeServer) -> None:
    fake.latency = 0.3
    adapter = Adapter(HeartlandClient(fake.url, "hl-test-token", timeout=(1.0, 0.05)))
    with pytest.raises(RetryableError, match="timed out"):
        adapter.get_customer("1")


def test_a_refused_connection_is_retryable() -> None:
    sock = socket.socket()  # a port nobody listens on
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    adapter = Adapter(HeartlandClient(f"http://127.0.0.1:{port}", "t", timeout=(0.5, 0.5)))
    with pytest.raises(RetryableError, match="connect"):
        adapter.search_by_email("a@example.com")
