"""The POS adapter interface the pipeline uses for every POS, and the HTTP client they share.

The pipeline only ever sees `PosAdapter`, `PosCustomer`, `Capabilities` and `ChangePage`: plain value
types around the canonical `Customer`. Each vendor package implements `PosAdapter` on top of
`VendorHttpClient`, which owns the transport, timeouts, error classification and rate-limit headers.
"""

from __future__ import annotations

import abc
import functools
import os
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import requests
import requests.adapters
import requests.utils

from possync.adapters.errors import (
    AdapterError,
    AuthenticationError,
    BadResponseError,
    ErrorAction,
    ErrorTable,
    FatalError,
    RateLimitedError,
    RefreshTokenError,
    RetryableError,
    resolve,
)
from possync.adapters.ratelimit import RateLimitInfo
from possync.models.customer import Customer
from possync.models.pos_customer import PosCustomer

DEFAULT_TIMEOUT = (5.0, 20.0)  # (connect, read) seconds, on every call


@dataclass(frozen=True)
class Capabilities:
    """What a POS can hold, so the rules know what to write and what to leave out."""

    phone_slot: str  # where phone 1 goes: "Home" (R), "phone" (X), "mobile" (Heartland)
    has_tags: bool
    sms_consent: bool
    shipping_address: bool
    tags_field: str | None = None  # where tags go when the POS has no tags (documented in README)
    can_unarchive: bool = True  # R-Series and Heartland: archived customers can be matched again
    birthday: bool = True  # Heartland: only through a mapped custom field
    email_consent: bool = True  # Heartland: only through a mapped custom field


@dataclass(frozen=True)
class ChangePage:
    """One page of POS customers changed since a cursor. Store `next_cursor` after the page is done."""

    customers: list[PosCustomer]
    next_cursor: str | None
    has_more: bool = False


@dataclass
class RequestStats:
    """Counts of HTTP requests a client made, by status (for metrics and the requests-per-sync bench)."""

    requests: int = 0
    by_status: dict[int, int] = field(default_factory=dict)
    last_rate_limit: RateLimitInfo | None = None


class PosAdapter(abc.ABC):
    """What the pipeline may ask of any POS. Canonical values in and out; never vendor JSON."""

    kind: str
    capabilities: Capabilities
    stats: RequestStats
    client: VendorHttpClient  # the pipeline wires its limiter and request counter to it
    # Whether a change-poll customer carrying `vendor_state` is a reading an update may start from, so the
    # POS index keeps it (issue #14). Off unless the adapter checked its list rows say so (Heartland).
    change_rows_are_readings: bool = False

    @abc.abstractmethod
    def get_customer(self, pos_id: str) -> PosCustomer | None:
        """One customer by id, archived/deleted ones included (status says which); None if unknown."""

    @abc.abstractmethod
    def search_by_email(self, email: str) -> list[PosCustomer]:
        """Customers whose email matches (vendor search; callers re-check keys on their side)."""

    @abc.abstractmethod
    def search_by_phone(self, phone: str) -> list[PosCustomer]:
        """Customers whose phone matches as far as the vendor's search can tell."""

    @abc.abstractmethod
    def create_customer(self, customer: Customer) -> PosCustomer:
        """Create and return the new customer with its POS id."""

    @abc.abstractmethod
    def update_customer(self, pos_id: str, changes: Mapping[str, Any]) -> PosCustomer:
        """Write only the given canonical fields (keys of `Customer.SYNCED_FIELDS`)."""

    def update_customer_as_read(self, read: PosCustomer, changes: Mapping[str, Any]) -> PosCustomer:
        """`update_customer` for a customer the caller read and holds as still current (rule 37 is the
        caller's to check): an adapter may build the write from `read.vendor_state` instead of reading
        the record again. By default it reads as `update_customer` does."""
        return self.update_customer(read.pos_id, changes)

    @abc.abstractmethod
    def changes_since(self, cursor: str | None) -> ChangePage:
        """POS customers changed after `cursor` (None: from the beginning), archived/deleted included."""

    def count_customers(self) -> int | None:
        """How many customers the POS holds, archived/deleted included, where the vendor can say (one
        request); None where it has no count. Only for showing progress: nothing may depend on it."""
        return None


TokenSaver = Callable[[dict[str, Any]], None]


@functools.lru_cache(maxsize=256)
def _environment_proxies(origin: str) -> tuple[tuple[str, str], ...]:
    return tuple(requests.utils.get_environ_proxies(origin).items())


@functools.lru_cache(maxsize=1)
def _environment_ca_bundle() -> str | None:
    return os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")


def environment_settings(url: str) -> tuple[dict[str, str], str | bool]:
    """(proxies, verify) for `url` from the proxy and CA-bundle variables, read once per host.

    What `requests.Session` works out per request, scanning the whole environment twice; a running
    process's environment does not change (ARCHITECTURE principle 8). `NO_PROXY` is honoured.
    """
    parts = urllib.parse.urlsplit(url)
    return dict(_environment_proxies(f"{parts.scheme}://{parts.netloc}")), _environment_ca_bundle() or True


# Sent on every vendor request: names the integration in the vendor's logs, and asks for compressed
# bodies as a `requests.Session` did by default.
DEFAULT_HEADERS = {"User-Agent": "possync",
                   "Accept-Encoding": "gzip, deflate", "Accept": "application/json"}


_transports: dict[int, requests.adapters.HTTPAdapter] = {}


def shared_transport() -> requests.adapters.HTTPAdapter:
    """This process's connection pools, shared by every client it builds.

    A step builds its clients afresh (each with its own credentials and rate-limit hooks), but a
    TCP (and TLS) connection to the vendor is worth keeping: connecting anew for every request cost
    more than the request. Keyed by process id, so a forked worker never shares a parent's sockets.
    """
    pid = os.getpid()
    if pid not in _transports:
        _transports.clear()
        _transports[pid] = requests.adapters.HTTPAdapter(pool_connections=64, pool_maxsize=16)
    return _transports[pid]


class VendorHttpClient:
    """`requests` with timeouts, one error table and rate-limit header parsing.

    Requests go straight to the process's shared transport adapter, not through a `requests.Session`:
    vendor APIs need no cookie jar, redirects or session hooks, and a session's merging of them was a
    third of a request's CPU. A redirect is not followed: a 3xx fails as a fatal error naming the
    endpoint and status (a wrong base URL), rather than sending credentials on to another host.

    Subclasses set `vendor` and `error_table`, implement `auth_headers()` and `parse_rate_limit()`,
    and may implement `refresh_credentials()` for OAuth (called once on a 401, then the request is
    repeated; a second 401 is an `AuthenticationError`).
    """

    vendor: str = "vendor"
    error_table: ErrorTable = MappingProxyType({})  # vendors add theirs; unlisted statuses go by class

    def __init__(self, base_url: str, *, timeout: tuple[float, float] = DEFAULT_TIMEOUT) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.transport = shared_transport()
        self.stats = RequestStats()
        # Called before every request with the limiter's chance to say "wait" (raises RateLimitedError).
        self.before_request: Callable[[], None] | None = None
        # Called with every response's rate-limit reading (feeds the shared limiter).
        self.on_rate_limit: Callable[[RateLimitInfo], None] | None = None
        # Called with every response's HTTP status, None when the request failed in transport (metrics).
        self.on_response: Callable[[int | None], None] | None = None

    # --- hooks ---------------------------------------------------------------------------------
    def auth_headers(self) -> dict[str, str]:
        return {}

    def parse_rate_limit(self, response: requests.Response) -> RateLimitInfo | None:
        return None

    def refresh_credentials(self) -> bool:
        """Refresh an OAuth token; return False when this client cannot refresh."""
        return False

    def classify(self, response: requests.Response) -> ErrorAction | None:
        """Hook for vendors that signal errors in the body of a 2xx; None = use the status table."""
        return None

    # --- the one request path ------------------------------------------------------------------
    def request(
        self,
        method: str,
        path_or_url: str,
        *,
        endpoint: str | None = None,
        **kwargs: Any,
    ) -> requests.Response:
        """Send one request; return a 2xx response or raise a domain `AdapterError`."""
        url = path_or_url if path_or_url.startswith("http") else f"{self.base_url}{path_or_url}"
        endpoint = endpoint or f"{method} {path_or_url.split('?')[0]}"
        refreshed = False
        while True:
            if self.before_request is not None:
                self.before_request()
            response = self._send(method, url, endpoint, kwargs)
            try:
                return self._check(response, endpoint)
            except RefreshTokenError:
                if refreshed or not self.refresh_credentials():
                    raise AuthenticationError(
                        "credentials rejected after a token refresh; reconnect the account",
                        vendor=self.vendor,
                        endpoint=endpoint,
                        http_status=response.status_code,
                    ) from None
                refreshed = True

    def transmit(self, method: str, url: str, *, headers: Mapping[str, str] | None = None, params: Any = None,
                 json: Any = None, data: Any = None) -> requests.Response:
        """One HTTP exchange, no error handling: `requests.RequestException` on a network failure."""
        prepared = requests.Request(method, url, headers={**DEFAULT_HEADERS, **(headers or {})}, params=params,
                                    json=json, data=data).prepare()
        proxies, verify = environment_settings(url)
        response = self.transport.send(prepared, timeout=self.timeout, proxies=proxies, verify=verify)
        _ = response.content  # read it all: that gives the connection back to the pool for the next request
        return response

    def _send(self, method: str, url: str, endpoint: str, kwargs: dict[str, Any]) -> requests.Response:
        headers = {**self.auth_headers(), **(kwargs.get("headers") or {})}
        rest = {k: v for k, v in kwargs.items() if k != "headers"}
        self.stats.requests += 1
        try:
            response = self.transmit(method, url, headers=headers, **rest)
        except requests.RequestException as exc:
            if self.on_response is not None:
                self.on_response(None)
            resolution = resolve(self.error_table, exc)
            raise self._error(resolution.action, resolution.reason, endpoint, None, None) from exc
        self.stats.by_status[response.status_code] = self.stats.by_status.get(response.status_code, 0) + 1
        if self.on_response is not None:
            self.on_response(response.status_code)
        info = self.parse_rate_limit(response)
        if info is not None:
            self.stats.last_rate_limit = info
            if self.on_rate_limit is not None:
                self.on_rate_limit(info)
        return response

    def _check(self, response: requests.Response, endpoint: str) -> requests.Response:
        action = self.classify(response)
        if action is None and 200 <= response.status_code < 300:  # a 3xx is not followed (class docstring)
            return response
        resolution = resolve(self.error_table, response.status_code)
        action = action or resolution.action
        detail = _error_detail(response)
        reason = f"{resolution.reason} ({response.status_code}{': ' + detail if detail else ''})"
        info = self.stats.last_rate_limit
        raise self._error(action, reason, endpoint, response.status_code, info)

    def _error(
        self,
        action: ErrorAction,
        reason: str,
        endpoint: str,
        status: int | None,
        info: RateLimitInfo | None,
    ) -> AdapterError:
        common: dict[str, Any] = {"vendor": self.vendor, "endpoint": endpoint, "http_status": status}
        if action is ErrorAction.RATE_LIMITED:
            wait = info.retry_after if info and info.retry_after is not None else 1.0
            return RateLimitedError(reason, retry_after=wait, **common)
        if action is ErrorAction.RETRY:
            return RetryableError(reason, **common)
        if action is ErrorAction.REFRESH_TOKEN:
            return RefreshTokenError(reason, **common)
        if status == 401:
            return AuthenticationError(reason, **common)
        return FatalError(reason, **common)

    def json(self, response: requests.Response, endpoint: str) -> Any:
        """The response body as JSON, or a `BadResponseError` naming the endpoint."""
        try:
            return response.json()
        except ValueError:
            raise BadResponseError(
                f"the response is not JSON (starts {response.text[:60]!r})", vendor=self.vendor, endpoint=endpoint
            ) from None

    def bad_field(self, endpoint: str, field_name: str, problem: str = "is missing") -> BadResponseError:
        return BadResponseError(f"field {field_name!r} {problem}", vendor=self.vendor, endpoint=endpoint)


def _error_detail(response: requests.Response) -> str:
    """A short, non-personal description from an error body (`message` / `error` keys)."""
    try:
        body = response.json()
    except ValueError:
        return ""
    if isinstance(body, dict):
        for key in ("message", "error_description", "error", "errors"):
            value = body.get(key)
            if isinstance(value, str | int | float):
                return str(value)[:200]
            if value:
                return str(value)[:200]
    return ""


