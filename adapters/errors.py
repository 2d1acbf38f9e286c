"""The domain exceptions every adapter raises, and the error-table machinery that picks them.

Tasks never look at HTTP status codes (ARCHITECTURE principle 4). A vendor client classifies every
failed response or transport exception through its error table into one of four actions
(after Airbyte's ResponseAction and the Singer SDK's exception hierarchy):

- RETRY: transient (timeouts, connection errors, 5xx) -> `RetryableError`, exponential back-off;
- RATE_LIMITED: 429 and friends -> `RateLimitedError` with the wait the vendor asked for;
- FATAL: validation, not found, forbidden -> `FatalError` with a reason a merchant can act on;
- REFRESH_TOKEN: 401 on an OAuth tenant -> refresh once, then `FatalError` if it repeats.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import requests


class ErrorAction(enum.StrEnum):
    RETRY = "retry"
    RATE_LIMITED = "rate_limited"
    FATAL = "fatal"
    REFRESH_TOKEN = "refresh_token"


@dataclass(frozen=True)
class ErrorResolution:
    action: ErrorAction
    reason: str


ErrorKey = int | type[BaseException]
ErrorTable = Mapping[ErrorKey, ErrorResolution]

# The defaults every vendor table starts from: `VENDOR_TABLE = DEFAULT_ERROR_TABLE | {...}`.
DEFAULT_ERROR_TABLE: dict[ErrorKey, ErrorResolution] = {
    requests.Timeout: ErrorResolution(ErrorAction.RETRY, "the request timed out"),
    requests.ConnectionError: ErrorResolution(ErrorAction.RETRY, "could not connect"),
    requests.RequestException: ErrorResolution(ErrorAction.RETRY, "the request failed in transport"),
    400: ErrorResolution(ErrorAction.FATAL, "the request was rejected as invalid"),
    401: ErrorResolution(ErrorAction.FATAL, "the credentials were rejected; reconnect the account"),
    403: ErrorResolution(ErrorAction.FATAL, "the credentials lack the permission (scope) for this call"),
    404: ErrorResolution(ErrorAction.FATAL, "the record does not exist"),
    405: ErrorResolution(ErrorAction.FATAL, "the endpoint does not allow this method"),
    408: ErrorResolution(ErrorAction.RETRY, "the server timed out"),
    409: ErrorResolution(ErrorAction.FATAL, "the request conflicts with existing data"),
    422: ErrorResolution(ErrorAction.FATAL, "the record failed the vendor's validation"),
    429: ErrorResolution(ErrorAction.RATE_LIMITED, "the vendor's rate limit was reached"),
    500: ErrorResolution(ErrorAction.RETRY, "the vendor had an internal error"),
    502: ErrorResolution(ErrorAction.RETRY, "bad gateway at the vendor"),
    503: ErrorResolution(ErrorAction.RETRY, "the vendor is unavailable"),
    504: ErrorResolution(ErrorAction.RETRY, "gateway timeout at the vendor"),
}


def resolve(table: ErrorTable, key: int | BaseException) -> ErrorResolution:
    """Look up a status code or exception: exact status, then the status class (4xx/5xx), then
    the exception's MRO (so `requests.ReadTimeout` finds `requests.Timeout`)."""
    if isinstance(key, int):
        if key in table:
            return table[key]
        if key >= 500:
            return ErrorResolution(ErrorAction.RETRY, f"the vendor answered {key}")
        return ErrorResolution(ErrorAction.FATAL, f"the vendor answered {key}")
    for cls in type(key).__mro__:
        if cls in table:
            return table[cls]
    return ErrorResolution(ErrorAction.RETRY, f"unexpected {type(key).__name__}")


class AdapterError(Exception):
    """Base of everything an adapter raises. `vendor` and `endpoint` say where it happened."""

    action: ErrorAction = ErrorAction.FATAL

    def __init__(
        self,
        message: str,
        *,
        vendor: str = "",
        endpoint: str = "",
        http_status: int | None = None,
    ) -> None:
        self.vendor = vendor
        self.endpoint = endpoint
        self.http_status = http_status
        prefix = " ".join(p for p in (vendor, endpoint) if p)
        super().__init__(f"{prefix}: {message}" if prefix else message)


class RetryableError(AdapterError):
    """Transient: try again later with exponential back-off."""

    action = ErrorAction.RETRY


class RateLimitedError(AdapterError):
    """The vendor (or possync's own limiter) asks to wait `retry_after` seconds.

    Waiting is not a failure: it never uses up the retry budget.
    """

    action = ErrorAction.RATE_LIMITED
    turn_at: float | None = None  # set by possync's own limiter: the caller's turn (epoch seconds)

    def __init__(self, message: str, *, retry_after: float, **kwargs: Any) -> None:
        self.retry_after = max(0.0, retry_after)
        super().__init__(message, **kwargs)

    def countdown(self, jitter: float) -> float:
        """Seconds until the retry: `retry_after` plus `jitter`, except for a turn, which is already spaced."""
        return self.retry_after + (0.0 if self.turn_at else jitter)


class BudgetWaitError(RateLimitedError):
    """possync's own limiter says "wait `retry_after` s"; `turn_at` (epoch s) is the job's turn, if given one."""

    def __init__(self, retry_after: float, *, turn_at: float | None, **kwargs: Any) -> None:
        super().__init__("waiting for the tenant's rate-limit budget", retry_after=retry_after, **kwargs)
        self.turn_at = turn_at


class FatalError(AdapterError):
    """Permanent: retrying the same call will fail the same way. Goes to the failed list."""

    action = ErrorAction.FATAL


class MissingFieldsError(FatalError):
    """The vendor cannot create this customer with the data it has (Heartland, rule 22): a replay starts
    over from the Shopify data, which the merchant may since have completed (`error_class`)."""

    error_class = "missing_fields"


class ConfigurationError(FatalError):
    """The tenant's settings do not allow this sync (e.g. no default customer); fixed by the operator."""

    error_class = "configuration"


class PartialCreateError(AdapterError):
    """A create reached the vendor but did not finish: `pos_id` exists, so a retry must finish that record
    rather than create another. `cause` is what stopped it and decides what happens next."""

    def __init__(self, pos_id: str, cause: AdapterError) -> None:
        super().__init__(f"customer {pos_id} created but not finished: {cause}", http_status=cause.http_status)
        self.pos_id = pos_id
        self.cause = cause
        self.action = cause.action


class AuthenticationError(FatalError):
    """Credentials rejected even after one token refresh."""


class BadResponseError(FatalError):
    """The vendor answered something that does not parse as its contract says (names the field)."""


class RefreshTokenError(AdapterError):
    """Internal to a client: 401 on an OAuth account; the client refreshes once and repeats."""

    action = ErrorAction.REFRESH_TOKEN
