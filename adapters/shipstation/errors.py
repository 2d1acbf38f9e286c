"""The ShipStation V1 error table: how each answer becomes retry / rate-limited / fatal.

Kept as data so a wrong guess about the vendor is a one-line change; reasons are for the merchant.
"""

from __future__ import annotations

from possync.adapters.errors import DEFAULT_ERROR_TABLE, ErrorAction, ErrorKey, ErrorResolution

VENDOR = "shipstation"

ERROR_TABLE: dict[ErrorKey, ErrorResolution] = DEFAULT_ERROR_TABLE | {
    400: ErrorResolution(ErrorAction.FATAL, "ShipStation rejected the request as invalid"),
    401: ErrorResolution(ErrorAction.FATAL,
                         "ShipStation rejected the API key and secret; check shipstation.api_key / api_secret"),
    403: ErrorResolution(ErrorAction.FATAL, "the ShipStation API key may not read customers"),
    404: ErrorResolution(ErrorAction.FATAL, "the ShipStation record does not exist"),
    429: ErrorResolution(ErrorAction.RATE_LIMITED, "the ShipStation rate limit (per-minute window) was reached"),
}
