"""The R-Series error table over real HTTP: each vendor answer becomes the right domain exception."""

from __future__ import annotations

import email.utils
import time
from collections.abc import Callable

import pytest
import requests

from possync.adapters.errors import (
    AdapterError,
    AuthenticationError,
    BadResponseError,
    ErrorAction,
    FatalError,
    RateLimitedError,
    RetryableError,
)
from possync.adapters.lightspeed_r import LightspeedRAdapter, make_adapter
from possync.adapters.lightspeed_r.client import LightspeedRClient
from possync.adapters.lightspeed_r.fake import FakeServer
from possync.models.tenants import TenantSettings
from tests.adapters.lightspeed_r.helpers import closed_port_url

# (status, headers, body) -> (exception class, action, retry_after or None)
CASES = [
    pytest.param(400, {}, {"message": "Invalid field"}, FatalError, ErrorAction.FATAL, None, id="400-fatal"),
    pytest.param(403, {}, {"message": "scope"}, FatalError, ErrorAction.FATAL, None, id="403-fatal"),
    pytest.param(404, {}, {"message": "Not found"}, FatalError, ErrorAction.FATAL, None, id="404-on-search-fatal"),
    pytest.param(409, {}, {"message": "conflict"}, FatalError, ErrorAction.FATAL, None, id="409-fatal"),
    pytest.param(418, {}, {"message": "teapot"}, FatalError, ErrorAction.FATAL, None, id="other-4xx-fatal"),
    pytest.param(422, {}, {"message": "invalid"}, FatalError, ErrorAction.FATAL, None, id="422-fatal"),
    pytest.param(429, {"Retry-After": "7", "X-LS-API-RateLimit-Type": "api-leaky-bucket"},
                 {"message": "Rate limit exceeded"}, RateLimitedError, ErrorAction.RATE_LIMITED, 7.0,
                 id="429-bucket-retry-after-seconds"),
    pytest.param(429, {"X-LS-API-RateLimit-Type": "api-burst-limiter"}, {"message": "burst rate limit exceeded"},
                 RateLimitedError, ErrorAction.RATE_LIMITED, 1.0, id="429-burst-at-least-1s"),
    pytest.param(429, {"Retry-After": "3", "X-LS-API-Bucket-Level": "99/90", "X-LS-API-Drip-Rate": "1"}, None,
                 RateLimitedError, ErrorAction.RATE_LIMITED, 3.0, id="429-retry-after-wins-over-level"),
    pytest.param(429, {"X-LS-API-Bucket-Level": "10/90"}, None, RateLimitedError, ErrorAction.RATE_LIMITED, 1.0,
                 id="429-no-wait-given-defaults-1s"),
    pytest.param(500, {}, {"message": "oops"}, RetryableError, ErrorAction.RETRY, None, id="500-retry"),
    pytest.param(502, {}, None, RetryableError, ErrorAction.RETRY, None, id="502-retry"),
    pytest.param(503, {"Retry-After": "5"}, None, RetryableError, ErrorAction.RETRY, None, id="503-retry"),
    pytest.param(504, {}, None, RetryableError, ErrorAction.RETRY, None, id="504-retry"),
    pytest.param(599, {}, None, RetryableError, ErrorAction.RETRY, None, id="other-5xx-retry"),
]


@pytest.mark.parametrize(("status", "headers", "body", "exc_class", "action", "retry_after"), CASES)
def test_error_table(
    fake: FakeServer,
    adapter: LightspeedRAdapter,
    status: int,
    headers: dict[str, str],
    body: object,
    exc_class: type[AdapterError],
    action: ErrorAction,
    retry_after: float | None,
) -> None:
    fake.inject(status, headers=headers, body=body)
    with pytest.raises(AdapterError) as caught:
        adapter.search_by_email("jane@example.com")
    error = caught.value
    assert type(error) is exc_class
    assert error.action is action
    assert error.http_status == status
    assert error.vendor == "lightspeed-r" and "Customer.json" in error.endpoint
    if retry_after is not None:
        assert isinstance(error, RateLimitedError) and error.retry_after == pytest.approx(retry_after)
    assert "jane@example.com" not in str(error)  # no personal data in the message


def test_429_retry_after_as_http_date(fake: FakeServer, adapter: LightspeedRAdapter) -> None:
    fake.inject(429, headers={"Retry-After": email.utils.formatdate(time.time() + 20, usegmt=True)})
    with pytest.raises(RateLimitedError) as caught:
        adapter.get_customer("1")
    assert 15 <= caught.value.retry_after <= 21


def test_vendor_shaped_429_from_inject(fake: FakeServer, adapter: LightspeedRAdapter) -> None:
    fake.inject_rate_limit(retry_after=4)
    with pytest.raises(RateLimitedError) as caught:
        adapter.get_customer("1")
    assert caught.value.retry_after == 4.0
    assert adapter.stats.last_rate_limit is not None and adapter.stats.last_rate_limit.capacity == 90.0
    assert adapter.get_customer("1") is None  # the fault is used up; the next call goes through


def test_404_on_get_is_none_not_an_error(adapter: LightspeedRAdapter) -> None:
    assert adapter.get_customer("999") is None
    assert adapter.get_customer("not-an-id") is None


def test_401_without_refresh_credentials_is_fatal_with_a_clear_reason(
    fake: FakeServer, make: Callable[..., LightspeedRAdapter]
) -> None:
    adapter = make(fake, {"access_token": "fake-access-token"})
    fake.expire_access_tokens()
    with pytest.raises(AuthenticationError) as caught:
        adapter.get_customer("1")
    assert caught.value.action is ErrorAction.FATAL and caught.value.http_status == 401
    assert "no refresh token" in str(caught.value) and "reconnect" in str(caught.value)
    assert fake.count_requests(path_contains="/auth/") == 0
    assert fake.count_requests() == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"Customer": {"customerID": "1", "archived": "nope", "timeStamp": "2024-01-01T00:00:00+00:00"}}, "archived"),
        ({"Customer": {"customerID": "1", "archived": "false"}}, "timeStamp"),
        ({"Customer": {"archived": "false", "timeStamp": "2024-01-01T00:00:00+00:00"}}, "customerID"),
        ({"@attributes": {"count": "1"}}, "Customer"),
        ("just a string", "(body)"),
        ([1, 2, 3], "(body)"),
    ],
    ids=["archived-not-bool", "no-timestamp", "no-id", "no-customer", "string-body", "array-body"],
)
def test_unexpected_answers_are_bad_responses(
    fake: FakeServer, adapter: LightspeedRAdapter, body: object, field: str
) -> None:
    fake.inject(200, body=body)
    with pytest.raises(BadResponseError) as caught:
        adapter.get_customer("1")
    assert field in str(caught.value) and "lightspeed-r" in str(caught.value)
    assert "Customer/{id}.json" in caught.value.endpoint


def test_list_answer_with_bad_shape(fake: FakeServer, adapter: LightspeedRAdapter) -> None:
    fake.inject(200, body={"@attributes": {"next": ""}, "Customer": ["x"]})
    with pytest.raises(BadResponseError, match="Customer"):
        adapter.changes_since(None)


def test_body_that_is_not_json() -> None:
    client = LightspeedRClient(account_id="1", secrets={"access_token": "t"})
    response = requests.Response()
    response.status_code = 200
    response._content = b"<html>maintenance</html>"
    with pytest.raises(BadResponseError, match="not JSON"):
        client.json(response, "GET Customer.json")


def test_next_url_to_another_host_is_refused(fake: FakeServer, adapter: LightspeedRAdapter) -> None:
    """The next URL would receive our bearer token: only the API host is followed."""
    fake.seed([{"first_name": "A", "email": "a@example.com"}])
    fake.inject(200, body={"@attributes": {"next": "https://evil.example/steal?after=x"}, "Customer": ""})
    with pytest.raises(BadResponseError, match="another host"):
        adapter.changes_since(None)


def test_timeouts_are_retryable(fake: FakeServer, adapter: LightspeedRAdapter) -> None:
    adapter.client.timeout = (1.0, 0.2)
    fake.latency = 0.6
    with pytest.raises(RetryableError, match="timed out"):
        adapter.get_customer("1")


def test_connection_refused_is_retryable() -> None:
    adapter = make_adapter({"base_url": closed_port_url(), "account_id": "1"}, {"access_token": "t"}, TenantSettings())
    with pytest.raises(RetryableError, match="connect"):
        adapter.get_customer("1")
