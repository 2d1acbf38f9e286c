"""The R-Series error table: how each vendor answer becomes retry / rate-limited / fatal / refresh.

Kept as data so a wrong guess about the vendor is a one-line change. Statuses not listed fall back
to `DEFAULT_ERROR_TABLE`, then to the status class (5xx retry, other 4xx fatal).
"""

from __future__ import annotations

from possync.adapters.errors import DEFAULT_ERROR_TABLE, ErrorAction, ErrorKey, ErrorResolution

VENDOR = "lightspeed-r"

# Without refresh credentials a 401 cannot be repaired by possync: the merchant must reconnect.
ERROR_TABLE: dict[ErrorKey, ErrorResolution] = DEFAULT_ERROR_TABLE | {
    400: ErrorResolution(ErrorAction.FATAL, "Lightspeed rejected the request as invalid"),
    401: ErrorResolution(
        ErrorAction.FATAL,
        "the access token was rejected and no refresh token is configured; reconnect the Lightspeed account",
    ),
    403: ErrorResolution(
        ErrorAction.FATAL, "the token lacks the employee:customers scope or this account; reconnect with that scope"
    ),
    404: ErrorResolution(ErrorAction.FATAL, "the Lightspeed record (or account) does not exist"),
    409: ErrorResolution(ErrorAction.FATAL, "Lightspeed reported a conflict with existing data"),
    422: ErrorResolution(ErrorAction.FATAL, "Lightspeed refused the customer's data (validation)"),
    429: ErrorResolution(ErrorAction.RATE_LIMITED, "the Lightspeed rate limit (leaky bucket or burst) was reached"),
}

# With refresh_token + client_id + client_secret, a 401 means "refresh once and repeat" (docs: the
# access token lives about an hour).
OAUTH_ERROR_TABLE: dict[ErrorKey, ErrorResolution] = ERROR_TABLE | {
    401: ErrorResolution(ErrorAction.REFRESH_TOKEN, "the access token expired or was revoked"),
}
