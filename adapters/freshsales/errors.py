"""Freshsales' error table as data (reference section 5.2), and its error-body reader.

An API key is per user and does not refresh: a 401 is final until the merchant pastes a new key.
Error bodies look like `{"errors": {"code": 400, "message": ["..."]}}` or `{"message": "..."}`.
"""

from __future__ import annotations

import re
from typing import Any

from possync.adapters.errors import DEFAULT_ERROR_TABLE, ErrorAction, ErrorKey, ErrorResolution

VENDOR = "freshsales"

FRESHSALES_ERROR_TABLE: dict[ErrorKey, ErrorResolution] = DEFAULT_ERROR_TABLE | {
    400: ErrorResolution(ErrorAction.FATAL, "Freshsales refused the contact"),
    401: ErrorResolution(
        ErrorAction.FATAL,
        "the Freshsales API key was rejected (revoked or wrong); paste a new one from Profile Settings > API Settings",
    ),
    403: ErrorResolution(ErrorAction.FATAL, "the Freshsales API key's user lacks the permission for this call"),
    404: ErrorResolution(ErrorAction.FATAL, "the Freshsales record or endpoint does not exist"),
    422: ErrorResolution(ErrorAction.FATAL, "Freshsales refused the contact"),
    429: ErrorResolution(ErrorAction.RATE_LIMITED, "Freshsales' rate limit was reached"),
}

_PERSONAL = re.compile(r"@|\d{5,}")  # an email or a long number echoed back in a vendor message


def error_message(body: Any) -> str:
    """The CRM's own message, without personal data (it sometimes echoes the value it refused)."""
    messages: list[str] = []
    if isinstance(body, dict):
        errors = body.get("errors")
        found = errors.get("message") if isinstance(errors, dict) else body.get("message")
        messages = found if isinstance(found, list) else [found] if found else []
    safe = [str(m)[:160] for m in messages if isinstance(m, str)]
    return "; ".join(_PERSONAL.sub("…", m) for m in safe)
