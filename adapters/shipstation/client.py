"""The ShipStation V1 HTTP client: Basic auth (key:secret), customer pages, tags, rate-limit headers.

V1 allows 40 requests a minute per key pair; every response says how many are left in the window and
when it resets (reference §6.1). Those readings feed the shared limiter: the bucket is the window
(capacity = the limit, refilled at limit per window), its fill is set from `X-Rate-Limit-Remaining`,
and a spent window (remaining 0) or a 429 becomes a cooldown of `X-Rate-Limit-Reset` seconds that
every worker honours, so no request is sent inside a spent window.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import requests

from possync.adapters.base import DEFAULT_TIMEOUT, VendorHttpClient
from possync.adapters.errors import FatalError
from possync.adapters.ratelimit import RateLimitInfo, header, header_number
from possync.adapters.shipstation.errors import ERROR_TABLE, VENDOR
from possync.adapters.shipstation.mapping import CustomerShapeError, ShipStationCustomer, customer_from_json

REAL_HOST = "https://ssapi.shipstation.com"
WINDOW_SECONDS = 60.0  # V1's window: "40 requests per minute" [reference §6.1]
MAX_PAGE_SIZE = 500  # `pageSize` 1-500 [§6.1]
TAGS_PATH = "/accounts/listtags"  # [§6.1: "path from memory", UNVERIFIED]


def base_url_for(config: Mapping[str, Any]) -> str:
    """`shipstation.base_url` replaces the host; null means the real V1 host (INTERFACE.md)."""
    return str(config.get("base_url") or REAL_HOST).rstrip("/")


def parse_rate_limit_headers(headers: Mapping[str, str], status: int,
                             window_seconds: float = WINDOW_SECONDS) -> RateLimitInfo | None:
    """`X-Rate-Limit-Limit/-Remaining/-Reset` as the shared reading; a 429 always yields one."""
    limit = header_number(header(headers, "X-Rate-Limit-Limit"))
    remaining = header_number(header(headers, "X-Rate-Limit-Remaining"))
    reset = header_number(header(headers, "X-Rate-Limit-Reset"))
    if limit is None and remaining is None and reset is None and status != 429:
        return None
    retry_after = None
    if status == 429 or remaining == 0:
        retry_after = max(0.0, reset) if reset is not None else window_seconds
    level = limit - remaining if limit is not None and remaining is not None else None
    drip = limit / window_seconds if limit else None
    return RateLimitInfo(capacity=limit, level=level, drip_per_second=drip, retry_after=retry_after)


@dataclass(frozen=True)
class CustomerPage:
    customers: list[ShipStationCustomer]
    page: int
    pages: int
    total: int | None


class ShipStationClient(VendorHttpClient):
    vendor = VENDOR
    error_table = ERROR_TABLE

    def __init__(self, base_url: str, api_key: str, api_secret: str, *,
                 window_seconds: float = WINDOW_SECONDS, timeout: tuple[float, float] = DEFAULT_TIMEOUT) -> None:
        super().__init__(base_url, timeout=timeout)
        self._auth = "Basic " + base64.b64encode(f"{api_key}:{api_secret}".encode()).decode("ascii")
        self.window_seconds = window_seconds

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": self._auth}

    def parse_rate_limit(self, response: requests.Response) -> RateLimitInfo | None:
        return parse_rate_limit_headers(response.headers, response.status_code, self.window_seconds)

    # --- calls ---------------------------------------------------------------------------------
    def list_customers(self, page: int = 1, page_size: int = MAX_PAGE_SIZE, *,
                       newest_first: bool = True) -> CustomerPage:
        """One page sorted by modify date (newest first: an incremental read stops at its cursor)."""
        endpoint = "GET /customers"
        params = {"sortBy": "ModifyDate", "sortDir": "DESC" if newest_first else "ASC",
                  "page": page, "pageSize": min(max(1, page_size), MAX_PAGE_SIZE)}
        body = self.json(self.request("GET", "/customers", params=params, endpoint=endpoint), endpoint)
        if not isinstance(body, dict) or not isinstance(body.get("customers"), list):
            raise self.bad_field(endpoint, "customers")
        pages = body.get("pages")
        if not isinstance(pages, int):
            raise self.bad_field(endpoint, "pages")
        try:
            customers = [customer_from_json(c) for c in body["customers"]]
        except CustomerShapeError as exc:
            raise self.bad_field(endpoint, "customers[]", str(exc)) from None
        total = body.get("total")
        return CustomerPage(customers, page, pages, total if isinstance(total, int) else None)

    def get_customer(self, customer_id: str) -> ShipStationCustomer:
        endpoint = "GET /customers/{customerId}"
        if not str(customer_id).isdigit():
            raise FatalError(f"a ShipStation customerId is a whole number, not {customer_id!r}", vendor=self.vendor,
                             endpoint=endpoint)
        body = self.json(self.request("GET", f"/customers/{int(customer_id)}", endpoint=endpoint), endpoint)
        try:
            return customer_from_json(body)
        except CustomerShapeError as exc:
            raise self.bad_field(endpoint, "customer", str(exc)) from None

    def list_tags(self) -> list[dict[str, Any]]:
        """The account's tags `[{tagId, name}]`: a rule's tag must exist before an import can apply it."""
        endpoint = f"GET {TAGS_PATH}"
        body = self.json(self.request("GET", TAGS_PATH, endpoint=endpoint), endpoint)
        if not isinstance(body, list):
            raise self.bad_field(endpoint, "body", "is not a list")
        return [{"tagId": t.get("tagId"), "name": t.get("name")} for t in body if isinstance(t, dict)]

    def iter_pages(self, page_size: int = MAX_PAGE_SIZE) -> Iterator[CustomerPage]:
        """Every page, newest first; the caller stops early once it reaches what it already read."""
        page = 1
        while True:
            result = self.list_customers(page, page_size)
            yield result
            if page >= result.pages:
                return
            page += 1
