"""The Freshsales HTTP client: `Authorization: Token token=...`, the error table, 429s without headers.

Freshsales documents no rate-limit headers: the shared limiter keeps the tenant's hourly and
per-minute windows itself (worker/limiter.py), and a 429 is read here as "wait", with `Retry-After`
when one is sent and `contract.DEFAULT_429_WAIT_SECONDS` otherwise.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import requests

from possync.adapters.base import DEFAULT_TIMEOUT, VendorHttpClient
from possync.adapters.errors import ErrorAction, FatalError, resolve
from possync.adapters.freshsales import contract
from possync.adapters.freshsales.errors import FRESHSALES_ERROR_TABLE, VENDOR, error_message
from possync.adapters.ratelimit import RateLimitInfo, header, parse_retry_after


def host_for(config: Mapping[str, Any]) -> str:
    """`crm.base_url` replaces the vendor host only (INTERFACE.md); else the tenant's Freshworks domain."""
    if config.get("base_url"):
        return str(config["base_url"]).rstrip("/")
    if not config.get("domain"):
        raise FatalError("crm.domain is required for a Freshsales tenant", vendor=VENDOR)
    return contract.REAL_HOST.format(domain=config["domain"])


class FreshsalesClient(VendorHttpClient):
    vendor = VENDOR
    error_table = FRESHSALES_ERROR_TABLE

    def __init__(self, host: str, api_key: str, *, timeout: tuple[float, float] = DEFAULT_TIMEOUT,
                 default_429_wait: float = contract.DEFAULT_429_WAIT_SECONDS) -> None:
        if not api_key:
            raise FatalError("crm.api_key (the Freshsales API key) is missing", vendor=VENDOR)
        super().__init__(host.rstrip("/") + contract.API_PREFIX, timeout=timeout)
        self._key = api_key
        self.default_429_wait = default_429_wait

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Token token={self._key}", "Content-Type": "application/json"}

    def parse_rate_limit(self, response: requests.Response) -> RateLimitInfo | None:
        if response.status_code != 429:
            return None
        wait = parse_retry_after(header(response.headers, "Retry-After"))
        return RateLimitInfo(retry_after=self.default_429_wait if wait is None else wait)

    def _check(self, response: requests.Response, endpoint: str) -> requests.Response:
        """A refusal names the CRM's own message (masked), so the failed list says what to fix."""
        if 400 <= response.status_code < 500 and response.status_code != 429:
            try:
                body = response.json()
            except ValueError:
                body = None
            resolution = resolve(self.error_table, response.status_code)
            message = error_message(body)
            reason = f"{resolution.reason} ({response.status_code}{': ' + message if message else ''})"
            raise self._error(ErrorAction.FATAL, reason, endpoint, response.status_code, None)
        return super()._check(response, endpoint)

    def call(self, method: str, path: str, *, json: Any = None, params: Any = None) -> Any:
        """One request; the JSON body, or a `BadResponseError` naming the endpoint when it does not parse."""
        endpoint = f"{method} {path.split('?')[0]}"
        response = self.request(method, path, endpoint=endpoint, json=json, params=params)
        return self.json(response, endpoint)
