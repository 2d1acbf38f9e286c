"""The X-Series error table over real HTTP: vendor answer -> domain exception, action and wait."""

from __future__ import annotations

import email.utils
import socket
import time

import pytest

from possync.adapters.errors import (
    AuthenticationError,
    BadResponseError,
    ErrorAction,
    FatalError,
    RateLimitedError,
    RetryableError,
)
from possync.adapters.lightspeed_x import LightspeedXAdapter, make_adapter
from possync.adapters.lightspeed_x.client import WrongAddressError
from possync.adapters.lightspeed_x.fake import FakeServer
from possync.models.customer import Customer

# (status, headers (None = none; "date+N" / "reset+N" are made relative to now), body, class, action, retry_after)
CASES = [
    (400, None, {"error": "Bad Request"}, FatalError, ErrorAction.FATAL, None),
    (401, None, {"error": "Unauthorized"}, AuthenticationError, ErrorAction.FATAL, None),
    (403, None, {"error": "Forbidden"}, FatalError, ErrorAction.FATAL, None),
    (404, None, {"error": "Not Found"}, FatalError, ErrorAction.FATAL, None),
    (409, None, {"error": "Conflict"}, FatalError, ErrorAction.FATAL, None),
    (418, None, {"error": "Teapot"}, FatalError, ErrorAction.FATAL, None),
    (422, None, {"error": "Validation failed", "details": {"email": "bad"}}, FatalError, ErrorAction.FATAL, None),
    (429, {"Retry-After": "date+30"}, None, RateLimitedError, ErrorAction.RATE_LIMITED, 30.0),
    (429, {"Retry-After": "12"}, None, RateLimitedError, ErrorAction.RATE_LIMITED, 12.0),
    (429, {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "reset+45"}, None, RateLimitedError,
     ErrorAction.RATE_LIMITED, 45.0),
    (429, None, None, RateLimitedError, ErrorAction.RATE_LIMITED, 1.0),
    (500, None, None, RetryableError, ErrorAction.RETRY, None),
    (502, None, None, RetryableError, ErrorAction.RETRY, None),
    (503, None, None, RetryableError, ErrorAction.RETRY, None),
    (504, None, None, RetryableError, ErrorAction.RETRY, None),
    (599, None, None, RetryableError, ErrorAction.RETRY, None),
]  # fmt: skip
IDS = [
    "400-invalid", "401-personal-token-is-auth-error", "403-missing-scope", "404-on-search", "409-conflict",
    "418-other-4xx", "422-validation", "429-retry-after-http-date", "429-retry-after-seconds",
    "429-reset-epoch-only", "429-bare-default-wait", "500", "502", "503", "504", "599-other-5xx",
]  # fmt: skip


def _resolve(headers: dict[str, str] | None) -> dict[str, str]:
    out = {}
    for name, value in (headers or {}).items():
        if value.startswith("date+"):
            value = email.utils.formatdate(time.time() + float(value[5:]), usegmt=True)
        elif value.startswith("reset+"):
            value = str(int(time.time() + float(value[6:])))
        out[name] = value
    return out


@pytest.mark.parametrize(("status", "headers", "body", "exc_class", "action", "retry_after"), CASES, ids=IDS)
def test_error_table(
    fake: FakeServer,
    adapter: LightspeedXAdapter,
    status: int,
    headers: dict[str, str] | None,
    body: dict | None,
    exc_class: type[Exception],
    action: ErrorAction,
    retry_after: float | None,
) -> None:
    fake.inject(status, headers=_resolve(headers), body=body, vendor_headers=False)
    with pytest.raises(exc_class) as info:
        adapter.search_by_email("ann@example.com")
    error = info.value
    assert type(error) is exc_class
    assert error.action is action
    assert error.http_status == status
    assert error.vendor == "lightspeed-x" and "/api/2.0/search" in error.endpoint
    if retry_after is not None:
        assert error.retry_after == pytest.approx(retry_after, abs=1.5)
    assert fake.count_requests() == 1  # no blind retry inside the adapter


def test_injected_vendor_429_carries_vendor_headers(fake: FakeServer, adapter: LightspeedXAdapter) -> None:
    fake.inject(429, retry_after=20)
    with pytest.raises(RateLimitedError) as info:
        adapter.get_customer("b8ca3a65-0183-11e4-fbb5-4f73f02a9d1c")
    assert info.value.retry_after == pytest.approx(20, abs=1.5)
    assert "Rate limiting enforced" in str(info.value)


def test_real_window_429_from_the_fake() -> None:
    fake = FakeServer(rate_limit=2, window_seconds=30)
    fake.start()
    try:
        adapter = make_adapter({"base_url": fake.url}, {"access_token": FakeServer.DEFAULT_TOKEN})
        adapter.search_by_email("a@example.com")
        adapter.search_by_email("a@example.com")
        with pytest.raises(RateLimitedError) as info:
            adapter.search_by_email("a@example.com")
        assert 28 <= info.value.retry_after <= 31.5
        assert adapter.stats.by_status == {200: 2, 429: 1}
        assert adapter.stats.last_rate_limit.capacity == 2
    finally:
        fake.stop()


def test_404_on_get_is_none_but_a_non_api_404_is_a_wrong_address(fake: FakeServer) -> None:
    good = make_adapter({"base_url": fake.url}, {"access_token": FakeServer.DEFAULT_TOKEN})
    assert good.get_customer("b8ca3a65-0183-11e4-fbb5-4f73f02a9d1c") is None
    wrong = make_adapter({"base_url": fake.url + "/elsewhere"}, {"access_token": FakeServer.DEFAULT_TOKEN})
    with pytest.raises(WrongAddressError, match="base_url"):
        wrong.get_customer("b8ca3a65-0183-11e4-fbb5-4f73f02a9d1c")


BAD_BODIES = [
    ("get", "oops", "'body'"),
    ("get", {"unexpected": 1}, "'data'"),
    ("get", {"data": {"first_name": "A"}}, "'data.id'"),
    ("poll", {"data": {"id": "x"}, "version": {"min": 1, "max": 2}}, "'data'"),
    ("poll", {"data": [{"id": "x", "first_name": None, "last_name": None}], "version": {}}, "'version.max'"),
    ("poll", {"data": [{"id": "x", "first_name": None, "last_name": None}], "version": {"min": 0, "max": 0}},
     "'version.max'"),
    ("search", {"data": [{"first_name": "A"}]}, "'data[0].id'"),
    ("create", {"data": {"id": "x", "email": 5}}, "'data.email'"),
]  # fmt: skip


BAD_BODY_IDS = [
    "get-not-object", "get-no-data", "get-no-id", "poll-data-not-list", "poll-no-version", "poll-version-stuck",
    "search-item-no-id", "create-email-int",
]  # fmt: skip


@pytest.mark.parametrize(
    ("call", "body", "field"),
    BAD_BODIES,
    ids=BAD_BODY_IDS,
)
def test_unparseable_answers_are_bad_responses(
    fake: FakeServer, adapter: LightspeedXAdapter, call: str, body: object, field: str
) -> None:
    fake.inject(200, body=body)
    calls = {
        "get": lambda: adapter.get_customer("b8ca3a65-0183-11e4-fbb5-4f73f02a9d1c"),
        "poll": lambda: adapter.changes_since(None),
        "search": lambda: adapter.search_by_email("a@example.com"),
        "create": lambda: adapter.create_customer(Customer(first_name="A", last_name="B")),
    }
    with pytest.raises(BadResponseError) as info:
        calls[call]()
    assert field in str(info.value)
    assert info.value.vendor == "lightspeed-x" and info.value.endpoint


def test_timeout_is_retryable(fake: FakeServer, adapter: LightspeedXAdapter) -> None:
    fake.latency = 0.5
    adapter.client.timeout = (1.0, 0.1)
    with pytest.raises(RetryableError, match="timed out"):
        adapter.get_customer("b8ca3a65-0183-11e4-fbb5-4f73f02a9d1c")


def test_connection_refused_is_retryable() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    adapter = make_adapter({"base_url": f"http://127.0.0.1:{port}"}, {"access_token": "t"})
    with pytest.raises(RetryableError, match="connect"):
        adapter.get_customer("b8ca3a65-0183-11e4-fbb5-4f73f02a9d1c")
