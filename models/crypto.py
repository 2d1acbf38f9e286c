"""Credentials at rest: JSON objects encrypted with Fernet under POSSYNC_SECRET_KEY.

Fernet (AES-128-CBC + HMAC-SHA256) from `cryptography` authenticates as well as encrypts, so a
tampered column fails loudly instead of yielding a wrong token.
"""

from __future__ import annotations

import json
from typing import Any

from cryptography.fernet import Fernet, InvalidToken


class SecretsError(Exception):
    """Stored credentials cannot be decrypted (wrong POSSYNC_SECRET_KEY or a damaged column)."""


def encrypt_json(data: dict[str, Any], key: str) -> str:
    return Fernet(key.encode()).encrypt(json.dumps(data, sort_keys=True).encode()).decode()


def decrypt_json(token: str, key: str) -> dict[str, Any]:
    try:
        return json.loads(Fernet(key.encode()).decrypt(token.encode()))
    except InvalidToken:
        raise SecretsError(
            "stored credentials cannot be decrypted: POSSYNC_SECRET_KEY differs from the key they were saved with"
        ) from None


# Secrets shorter than this show nothing at all: four known characters of a short one narrow it too much.
MASK_SHOWS_TAIL_FROM = 16


def mask(value: str | None) -> str | None:
    """What `tenant show` prints for a secret: at most its last 4 characters, to tell two apart; never its
    start (token prefixes such as `shpat_` say nothing) nor its length."""
    if not value:
        return value
    return f"****{value[-4:]}" if len(value) >= MASK_SHOWS_TAIL_FROM else "****"
