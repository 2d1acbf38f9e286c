"""The R-Series HTTP client: bearer auth with rotating refresh tokens, the leaky-bucket headers, paging.

Built on `VendorHttpClient`, which owns the one request path (timeouts, error table, one refresh on a
401). What is R-Series specific lives here:

- the account-scoped base URL `/API/V3/Account/{id}` and the token URL (pos.base_url replaces the host);
- refresh-token rotation (Gotcha 10): the NEW tokens are handed to `save_secrets` before the new access
  token is ever sent, because the old refresh token is revoked once the new access token is used;
- `X-LS-API-Bucket-Level` / `-Drip-Rate` / `Retry-After` into `RateLimitInfo` (Gotchas 7-9);
- `@attributes.next` is followed exactly, and only on the same host (it carries our bearer token).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping
from typing import Any
from urllib.parse import urlsplit

import requests

from possync.adapters import oauth
from possync.adapters.base import DEFAULT_TIMEOUT, VendorHttpClient
from possync.adapters.errors import (
    AuthenticationError,
    BadResponseError,
    RateLimitedError,
    RetryableError,
    resolve,
)
from possync.adapters.lightspeed_r import mapping
from possync.adapters.lightspeed_r.errors import ERROR_TABLE, OAUTH_ERROR_TABLE, VENDOR
from possync.adapters.ratelimit import RateLimitInfo, header, parse_fraction, parse_retry_after

REAL_API_HOST = "https://api.lightspeedapp.com"
REAL_TOKEN_URL = "https://cloud.lightspeedapp.com/auth/oauth/token"
TOKEN_PATH = "/auth/oauth/token"  # under pos.base_url when it is set (sandboxes, the fake)
# [U] The docs show the token body as a JSON object; the OAuth server behind it (league/oauth2-server,
# going by its `hint` field) reads form fields, which every OAuth server accepts. Flip to send JSON.
TOKEN_BODY_AS_FORM = True
BURST_LIMITER = "api-burst-limiter"
BURST_MIN_WAIT = 1.0  # docs: a burst 429 means wait at least one second
MAX_PAGES = 1000  # a safety stop for a `next` chain that never ends

SaveSecrets = Callable[[dict[str, Any]], None]


def rate_limit_from_headers(headers: Mapping[str, str], status: int) -> RateLimitInfo | None:
    """The leaky bucket as the vendor reports it; None when a non-429 answer carries no bucket headers.

    A 429 always yields a reading (possibly without `retry_after`), so an old reading never supplies
    the wait for a new 429.
    """
    bucket = parse_fraction(header(headers, "X-LS-API-Bucket-Level"))
    drip_text = header(headers, "X-LS-API-Drip-Rate")
    try:
        drip = float(drip_text) if drip_text else None
    except ValueError:
        drip = None
    if drip is not None and (not math.isfinite(drip) or drip <= 0):
        drip = None
    level, capacity = bucket if bucket else (None, None)
    retry_after = None
    if status == 429:
        retry_after = parse_retry_after(header(headers, "Retry-After"))
        if retry_after is None and level is not None and capacity is not None and drip and level + 1.0 > capacity:
            retry_after = (level - capacity + 1.0) / drip  # until one more request fits
        limit_type = (header(headers, "X-LS-API-RateLimit-Type") or "").strip().lower()
        if limit_type == BURST_LIMITER:
            retry_after = max(retry_after or 0.0, BURST_MIN_WAIT)
    elif bucket is None and drip is None:
        return None
    try:  # requests with relations cost more than 1 unit: the shared limiter learns the real price
        cost = float(header(headers, "X-LS-API-Request-Cost") or "")
    except ValueError:
        cost = None
    cost = cost if cost is not None and math.isfinite(cost) and cost > 0 else None
    return RateLimitInfo(capacity=capacity, level=level, drip_per_second=drip, retry_after=retry_after,
                         request_cost=cost)


class LightspeedRClient(VendorHttpClient):
    vendor = VENDOR

    def __init__(
        self,
        *,
        account_id: str,
        secrets: Mapping[str, Any],
        base_url: str | None = None,
        save_secrets: SaveSecrets | None = None,
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
    ) -> None:
        host = (base_url or REAL_API_HOST).rstrip("/")
        super().__init__(f"{host}/API/V3/Account/{account_id}", timeout=timeout)
        self.host = host
        self.token_url = f"{host}{TOKEN_PATH}" if base_url else REAL_TOKEN_URL
        self._secrets = dict(secrets)
        self.save_secrets = save_secrets
        self.can_refresh = oauth.can_refresh(self._secrets)
        self.error_table = OAUTH_ERROR_TABLE if self.can_refresh else ERROR_TABLE

    # --- VendorHttpClient hooks -----------------------------------------------------------------
    def auth_headers(self) -> dict[str, str]:
        token = self._secrets.get("access_token")
        return {"Authorization": f"Bearer {token}"} if token else {}

    def parse_rate_limit(self, response: requests.Response) -> RateLimitInfo | None:
        return rate_limit_from_headers(response.headers, response.status_code)


    def refresh_credentials(self) -> bool:
        """Trade the refresh token for a new pair; save both before the new access token is used."""
        if not self.can_refresh:
            return False
        endpoint = f"POST {TOKEN_PATH}"
        form = oauth.refresh_form(self._secrets)
        body_kwargs: dict[str, Any] = {"data": form} if TOKEN_BODY_AS_FORM else {"json": form}
        self.stats.requests += 1
        try:
            response = self.transmit("POST", self.token_url, **body_kwargs)
        except requests.RequestException as exc:
            resolution = resolve(self.error_table, exc)
            raise RetryableError(f"token refresh: {resolution.reason}", vendor=self.vendor, endpoint=endpoint) from exc
        self.stats.by_status[response.status_code] = self.stats.by_status.get(response.status_code, 0) + 1
        common: dict[str, Any] = {"vendor": self.vendor, "endpoint": endpoint, "http_status": response.status_code}
        if response.status_code in (400, 401, 403):
            code = _oauth_error_code(response)
            raise AuthenticationError(
                f"Lightspeed refused the refresh token ({code or response.status_code}); reconnect the account",
                **common,
            )
        if response.status_code == 429:
            wait = parse_retry_after(header(response.headers, "Retry-After"))
            raise RateLimitedError("the token endpoint is rate limited", retry_after=wait or 1.0, **common)
        if not response.ok:
            resolution = resolve(self.error_table, response.status_code)
            raise self._error(resolution.action, f"token refresh: {resolution.reason}", endpoint, response.status_code,
                              None)
        self._secrets = oauth.rotated_secrets(self, self._secrets, self.json(response, endpoint), endpoint,
                                              self.save_secrets)
        return True

    # --- R-Series calls ---------------------------------------------------------------------------
    def get_json(self, path_or_url: str, endpoint: str, params: Mapping[str, Any] | None = None) -> Any:
        response = self.request("GET", path_or_url, endpoint=endpoint, params=dict(params) if params else None)
        return self.json(response, endpoint)

    def send_json(
        self, method: str, path: str, endpoint: str, body: Mapping[str, Any] | None, params: Mapping[str, Any]
    ) -> Any:
        kwargs: dict[str, Any] = {"params": dict(params)}
        if body is not None:
            kwargs["json"] = dict(body)
        response = self.request(method, path, endpoint=endpoint, **kwargs)
        return self.json(response, endpoint)

    def pages(
        self, path_or_url: str, endpoint: str, params: Mapping[str, Any] | None, *, max_pages: int = MAX_PAGES
    ) -> Iterator[tuple[list[dict[str, Any]], str | None]]:
        """Yield (records, next URL) per page, following `@attributes.next` exactly until it is empty."""
        url: str | None = path_or_url
        query = params
        for _ in range(max_pages):
            assert url is not None
            body = self.get_json(url, endpoint, query)
            records = mapping.records_from_list(body, endpoint)
            url = self.checked_next(mapping.next_url(body, endpoint), endpoint)
            query = None  # the next URL already carries every parameter
            yield records, url
            if url is None:
                return
        raise BadResponseError(f"more than {max_pages} pages; stopping", vendor=self.vendor, endpoint=endpoint)

    def checked_next(self, url: str | None, endpoint: str) -> str | None:
        """A next URL pointing elsewhere would receive our bearer token: refuse it."""
        if url is None:
            return None
        if urlsplit(url).netloc.lower() != urlsplit(self.host).netloc.lower():
            raise self.bad_field(endpoint, "@attributes.next", "points to another host")
        return url


def _oauth_error_code(response: requests.Response) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return None
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        return body["error"][:60]
    return None
