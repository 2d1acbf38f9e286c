"""The Heartland Retail HTTP client: bearer token, error table, rate-limit headers, `_filter` paging.

Everything HTTP-shaped about Heartland lives here so the adapter only deals in records:
- the host is `https://{subdomain}.retail.heartland.us` (or the tenant's `pos.base_url`), paths `/api/...`;
- list endpoints take `_filter` as URL-encoded JSON plus `page`/`per_page`, and answer
  `{"total", "pages", "results"}` (gotcha 21);
- a create answers 201 with the new id only in the `Location` header (gotcha 20).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlparse

import requests

from possync.adapters.base import DEFAULT_TIMEOUT, VendorHttpClient
from possync.adapters.errors import FatalError, resolve
from possync.adapters.heartland.errors import HEARTLAND_ERROR_TABLE, VENDOR, describe_validation
from possync.adapters.ratelimit import RateLimitInfo, header, parse_retry_after

REAL_HOST = "https://{subdomain}.retail.heartland.us"
API_PREFIX = "/api"

# [U] Heartland publishes no rate-limit numbers; third-party clients throttle themselves to about 5 requests
# per second. The shared limiter sizes a Heartland tenant's bucket from these until headers say otherwise.
ASSUMED_REQUESTS_PER_SECOND = 5.0
ASSUMED_BURST = 10.0  # possync's own limiter sizes Heartland's bucket from these two (possync.worker.limiter)
# [U] Generic rate-limit headers, read if Heartland ever sends them; none are documented today.
LIMIT_HEADER = "X-RateLimit-Limit"
REMAINING_HEADER = "X-RateLimit-Remaining"


def host_for(config: Mapping[str, Any]) -> str:
    """`pos.base_url` replaces the vendor host only (INTERFACE.md); null means the real tenant host."""
    base_url = config.get("base_url")
    if base_url:
        return str(base_url).rstrip("/")
    subdomain = config.get("subdomain")
    if not subdomain:
        raise FatalError("pos.subdomain is required for a Heartland tenant", vendor=VENDOR)
    return REAL_HOST.format(subdomain=subdomain)


@dataclass(frozen=True)
class ListPage:
    """One page of a Heartland collection."""

    results: list[Mapping[str, Any]]
    page: int
    pages: int
    total: int | None
    served_at: str | None = None  # the response's `Date` header: the vendor's clock (change cursors)

    @property
    def has_more(self) -> bool:
        return self.page < self.pages


class HeartlandClient(VendorHttpClient):
    vendor = VENDOR
    error_table = HEARTLAND_ERROR_TABLE

    def __init__(self, host: str, access_token: str, *, timeout: tuple[float, float] = DEFAULT_TIMEOUT) -> None:
        if not access_token:
            raise FatalError("pos.access_token (the Heartland API token) is missing", vendor=VENDOR)
        super().__init__(host.rstrip("/") + API_PREFIX, timeout=timeout)
        self._token = access_token

    # --- hooks -------------------------------------------------------------------------------------
    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._token}"}

    def parse_rate_limit(self, response: requests.Response) -> RateLimitInfo | None:
        return parse_rate_limit(response.status_code, response.headers)

    def _check(self, response: requests.Response, endpoint: str) -> requests.Response:
        """A 422 becomes a `FatalError` that names the fields the vendor rejected (SPEC rule 22)."""
        if response.status_code == 422:
            try:
                body = response.json()
            except ValueError:
                body = None
            reason = f"{resolve(self.error_table, 422).reason} (422): {describe_validation(body)}"
            raise FatalError(reason, vendor=self.vendor, endpoint=endpoint, http_status=422)
        return super()._check(response, endpoint)


    # --- Heartland shapes --------------------------------------------------------------------------
    def list_page(
        self,
        path: str,
        endpoint: str,
        *,
        filters: Any = None,
        page: int = 1,
        per_page: int = 100,
        sort: Sequence[str] = (),
        include: Sequence[str] = (),
    ) -> ListPage:
        """GET one page of a collection; `filters` is JSON-encoded into `_filter` (requests URL-encodes it)."""
        params: list[tuple[str, Any]] = []
        if filters is not None:
            params.append(("_filter", json.dumps(filters, separators=(",", ":"))))
        params += [("page", page), ("per_page", per_page)]
        params += [("sort[]", s) for s in sort]
        params += [("_include[]", rel) for rel in include]
        response = self.request("GET", path, endpoint=endpoint, params=params)
        body = self.json(response, endpoint)
        listed = parse_list(body, page, per_page, lambda name, problem: self.bad_field(endpoint, name, problem))
        return replace(listed, served_at=response.headers.get("Date"))

    def created_id(self, response: requests.Response, endpoint: str) -> str:
        """The new record's id from `Location: .../customers/{id}`: the body is not to be relied on."""
        location = header(response.headers, "Location")
        if not location:
            raise self.bad_field(endpoint, "Location", "header is missing on the create response")
        last = urlparse(location).path.rstrip("/").rsplit("/", 1)[-1]
        if not last.isdigit():
            raise self.bad_field(endpoint, "Location", "header does not end in an integer id")
        return last


def parse_list(body: Any, page: int, per_page: int, bad: Callable[[str, str], Exception]) -> ListPage:
    """Check a collection body's shape; `bad(field, problem)` builds the error naming the field."""
    if not isinstance(body, Mapping):
        raise bad("results", "is missing: the body is not an object")
    results = body.get("results")
    if not isinstance(results, list):
        raise bad("results", "is missing" if results is None else "is not a list")
    for item in results:
        if not isinstance(item, Mapping):
            raise bad("results[]", f"holds a {type(item).__name__}, not an object")
    total = body.get("total")
    if total is not None and (isinstance(total, bool) or not isinstance(total, int)):
        raise bad("total", "is not an integer")
    pages = body.get("pages")
    if pages is None:
        # Some proxies drop `pages`; derive it rather than stop paging early.
        if total is not None:
            pages = -(-total // per_page) if per_page else 0
        else:
            pages = page + 1 if len(results) >= per_page else page
    elif isinstance(pages, bool) or not isinstance(pages, int):
        raise bad("pages", "is not an integer")
    return ListPage(results=list(results), page=page, pages=pages, total=total)


def parse_rate_limit(status: int, headers: Mapping[str, str]) -> RateLimitInfo | None:
    """Heartland's rate-limit reading: `Retry-After` (seconds or HTTP date) on a 429, plus the generic
    `X-RateLimit-Limit/Remaining` pair if present [U]. A 429 always yields a reading, so a stale
    `Retry-After` from an earlier 429 is never reused."""
    retry_after = parse_retry_after(header(headers, "Retry-After"))
    capacity = _number(header(headers, LIMIT_HEADER))
    remaining = _number(header(headers, REMAINING_HEADER))
    if status != 429 and retry_after is None and capacity is None:
        return None
    level = capacity - remaining if capacity is not None and remaining is not None else None
    return RateLimitInfo(capacity=capacity, level=level, drip_per_second=None, retry_after=retry_after)


def _number(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return float(value.strip())
    except ValueError:
        return None
