"""Heartland Retail's error table as data (pos-apis.md section 3.6), and its 422 body reader.

Heartland documents little: 401 bad or revoked token, 403 the token's user lacks a permission, 404,
422 validation with `message` and (probably) per-field `errors` [U], 429 undocumented but handled.
There is no token refresh, so a 401 is final: the merchant must create a new API token.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from possync.adapters.errors import DEFAULT_ERROR_TABLE, ErrorAction, ErrorKey, ErrorResolution

VENDOR = "heartland"

HEARTLAND_ERROR_TABLE: dict[ErrorKey, ErrorResolution] = DEFAULT_ERROR_TABLE | {
    401: ErrorResolution(
        ErrorAction.FATAL,
        "the Heartland API token was rejected (revoked or wrong); create a new one in My Account > API Tokens",
    ),
    403: ErrorResolution(
        ErrorAction.FATAL,
        "the Heartland API token's user lacks a permission for customers; grant it to that user's role",
    ),
    404: ErrorResolution(ErrorAction.FATAL, "the Heartland record does not exist"),
    422: ErrorResolution(ErrorAction.FATAL, "Heartland rejected the record"),
    429: ErrorResolution(ErrorAction.RATE_LIMITED, "Heartland's rate limit was reached"),
}

_PERSONAL = re.compile(r"@|\d{5,}")  # an email or a long number (phone, card) in a vendor message


def describe_validation(body: Any) -> str:
    """Name the fields a 422 body complains about: `missing or invalid fields: email (can't be blank)`.

    Per-field messages are kept only when they carry nothing personal (vendors sometimes echo values).
    """
    if not isinstance(body, Mapping):
        return "no details given"
    errors = body.get("errors")
    parts: list[str] = []
    if isinstance(errors, Mapping):
        for field_name, messages in errors.items():
            texts = messages if isinstance(messages, list) else [messages]
            safe = [str(t)[:80] for t in texts if isinstance(t, str) and not _PERSONAL.search(t)]
            parts.append(f"{field_name} ({'; '.join(safe)})" if safe else str(field_name))
    elif isinstance(errors, list):
        parts = [str(e)[:80] for e in errors if isinstance(e, str) and not _PERSONAL.search(e)]
    if parts:
        return "missing or invalid fields: " + ", ".join(parts)
    message = body.get("message")
    if isinstance(message, str) and message and not _PERSONAL.search(message):
        return message[:200]
    return "no details given"
