"""The X-Series HTTP client: base URL, Bearer auth with refresh-token rotation, rate-limit headers.

Everything vendor-specific about talking HTTP to X-Series lives here; the adapter only asks for
paths and gets JSON. Facts marked [U] in the reference are constants, so a wrong guess is one line.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from typing import Any

import requests

from possync.adapters import oauth
from possync.adapters.base import DEFAULT_TIMEOUT, TokenSaver, VendorHttpClient
from possync.adapters.errors import AuthenticationError, FatalError
from possync.adapters.lightspeed_x.errors import ERROR_TABLE, OAUTH_ERROR_TABLE, VENDOR
from possync.adapters.ratelimit import RateLimitInfo, header, header_number, parse_retry_after

API_PREFIX = "/api/2.0"  # customers, search; the date-based versions keep the same shapes
TOKEN_PATH = "/api/1.0/token"  # the token endpoint stayed on 1.0 [D]
REAL_HOST = "https://{domain_prefix}.retail.lightspeed.app"
WINDOW_SECONDS = 300.0  # the fixed rate-limit window [D]; the pace when a response gives no reset time
_DOMAIN_PREFIX = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$", re.IGNORECASE)
_EPOCH_FLOOR = 1_000_000_000.0  # an X-RateLimit-Reset above this is an epoch time, below it a delta [U]


def base_url_for(config: Mapping[str, Any]) -> str:
    """`pos.base_url` replaces the host part only; null means the store's real host (INTERFACE.md)."""
    override = config.get("base_url")
    if override:
        return str(override).rstrip("/")
    prefix = config.get("domain_prefix")
    if not prefix or not _DOMAIN_PREFIX.match(str(prefix)):
        raise ValueError("lightspeed-x needs pos.domain_prefix (the store's sub-domain, e.g. 'acme')")
    return REAL_HOST.format(domain_prefix=str(prefix).lower())


def parse_rate_limit_headers(headers: Mapping[str, str], status: int, now: float | None = None) -> RateLimitInfo | None:
    """Read X-Series' window headers into the shared `RateLimitInfo`.

    capacity = `X-RateLimit-Limit`, level = limit - `X-RateLimit-Remaining`. The pace comes from
    `X-RateLimit-Reset`, when the window ends: the requests left are spread over the seconds left, and
    an exhausted window waits for its reset (a cooldown), by which time the whole limit is back. Without
    it, the documented 300 s window gives the sustained rate. `Retry-After` is an HTTP date on X-Series,
    though seconds are accepted too. A 429 always yields a reading, so a stale one is never reused.
    """
    now = time.time() if now is None else now
    capacity = header_number(header(headers, "X-RateLimit-Limit"))
    remaining = header_number(header(headers, "X-RateLimit-Remaining"))
    reset_in = _seconds_until(header_number(header(headers, "X-RateLimit-Reset")), now)
    retry_after = parse_retry_after(header(headers, "Retry-After"), now=now)
    if retry_after is None and reset_in is not None and (status == 429 or remaining == 0):
        retry_after = reset_in
    if capacity is None and remaining is None and retry_after is None and status != 429:
        return None
    level = capacity - remaining if capacity is not None and remaining is not None else None
    return RateLimitInfo(capacity=capacity, level=level, drip_per_second=_pace(capacity, remaining, reset_in),
                         retry_after=retry_after)


def _seconds_until(reset: float | None, now: float) -> float | None:
    """`X-RateLimit-Reset` as seconds from now. Its form on API responses is unverified [U] (the token
    endpoint's is epoch seconds): a value above `_EPOCH_FLOOR` is read as an epoch time, below it as a delta."""
    if reset is None:
        return None
    return max(0.0, reset - now) if reset >= _EPOCH_FLOOR else max(0.0, reset)


def _pace(capacity: float | None, remaining: float | None, reset_in: float | None) -> float | None:
    """Requests per second the window allows from now on."""
    if not capacity:
        return None
    if reset_in is None or reset_in <= 0 or remaining is None:
        return capacity / WINDOW_SECONDS
    return (remaining or capacity) / reset_in  # none left: all of it is back at the reset, waited for


class WrongAddressError(FatalError):
    """A 404 that is not the API's (no JSON body): the base URL or domain_prefix points elsewhere.

    Kept apart from "this customer does not exist", so a misconfigured tenant never reads as a store
    whose customers have all vanished (which would drop every link and create duplicates).
    """


class LightspeedXClient(VendorHttpClient):
    """Bearer token auth; with OAuth secrets, one refresh on a 401 (the refresh token rotates)."""

    vendor = VENDOR

    def __init__(
        self,
        base_url: str,
        secrets: Mapping[str, Any],
        save_secrets: TokenSaver | None = None,
        *,
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
    ) -> None:
        super().__init__(base_url, timeout=timeout)
        self.secrets: dict[str, Any] = dict(secrets)
        self.save_secrets = save_secrets
        self.can_refresh = oauth.can_refresh(self.secrets)
        self.error_table = OAUTH_ERROR_TABLE if self.can_refresh else ERROR_TABLE
        self._refreshing = False

    # --- hooks ---------------------------------------------------------------------------------
    def auth_headers(self) -> dict[str, str]:
        token = self.secrets.get("access_token")
        if self._refreshing or not token:
            return {}
        return {"Authorization": f"Bearer {token}"}

    def parse_rate_limit(self, response: requests.Response) -> RateLimitInfo | None:
        return parse_rate_limit_headers(response.headers, response.status_code)

    def refresh_credentials(self) -> bool:
        """Trade the refresh token for new tokens; store them before the new access token is used.

        Since 2025-03 the old refresh token is revoked once a new one is issued, so the new pair is
        handed to `save_secrets` first: if that raises, the new token is not used by this client.
        """
        if not self.can_refresh:
            return False
        endpoint = f"POST {TOKEN_PATH}"
        form = oauth.refresh_form(self.secrets)
        self._refreshing = True
        try:
            response = self._send("POST", f"{self.base_url}{TOKEN_PATH}", endpoint, {"data": form})
        finally:
            self._refreshing = False
        if response.status_code in (400, 401, 403):
            raise AuthenticationError(
                f"the refresh token was rejected ({response.status_code}: revoked, expired or already used); "
                "reconnect the store",
                vendor=self.vendor,
                endpoint=endpoint,
                http_status=response.status_code,
            )
        self._check(response, endpoint)
        self.secrets = oauth.rotated_secrets(self, self.secrets, self.json(response, endpoint), endpoint,
                                             self.save_secrets)
        return True

    def _check(self, response: requests.Response, endpoint: str) -> requests.Response:
        if response.status_code == 404 and not _is_json(response):
            raise WrongAddressError(
                "the address answered 404 without a JSON body; check pos.base_url and pos.domain_prefix",
                vendor=self.vendor,
                endpoint=endpoint,
                http_status=404,
            )
        return super()._check(response, endpoint)



def _is_json(response: requests.Response) -> bool:
    try:
        return isinstance(response.json(), dict)
    except ValueError:
        return False
