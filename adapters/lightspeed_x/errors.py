"""The X-Series error table: how each vendor answer becomes retry / rate-limited / fatal / refresh.

Kept as data so a wrong guess about the vendor is a one-line change. Statuses not listed fall back to
`DEFAULT_ERROR_TABLE`, then to the status class (5xx retry, other 4xx fatal). Reasons are written for
the merchant reading the failed list: they say what to do, never which customer it was.
"""

from __future__ import annotations

from possync.adapters.errors import DEFAULT_ERROR_TABLE, ErrorAction, ErrorKey, ErrorResolution

VENDOR = "lightspeed-x"

# A personal token cannot be refreshed: a 401 (expired or revoked token, or a wrong domain_prefix
# pointing at another store) needs the merchant to reconnect.
ERROR_TABLE: dict[ErrorKey, ErrorResolution] = DEFAULT_ERROR_TABLE | {
    400: ErrorResolution(ErrorAction.FATAL, "Lightspeed X-Series rejected the request as invalid"),
    401: ErrorResolution(
        ErrorAction.FATAL,
        "the X-Series token was rejected (expired, revoked or wrong domain_prefix); reconnect the store",
    ),
    403: ErrorResolution(
        ErrorAction.FATAL, "the X-Series token lacks the customers:read / customers:write scope; reconnect with them"
    ),
    404: ErrorResolution(ErrorAction.FATAL, "the X-Series record does not exist"),
    409: ErrorResolution(ErrorAction.FATAL, "X-Series reported a conflict with existing data"),
    422: ErrorResolution(ErrorAction.FATAL, "X-Series refused the customer's data (validation)"),
    429: ErrorResolution(ErrorAction.RATE_LIMITED, "the X-Series rate limit (5-minute window) was reached"),
}

# With refresh_token + client_id + client_secret (an OAuth add-on), a 401 means "refresh once and
# repeat": access tokens live 1 to 7 days.
OAUTH_ERROR_TABLE: dict[ErrorKey, ErrorResolution] = ERROR_TABLE | {
    401: ErrorResolution(ErrorAction.REFRESH_TOKEN, "the X-Series access token expired or was revoked"),
}
