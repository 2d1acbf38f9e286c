"""Shopify's webhook signature: base64 HMAC-SHA256 of the raw body under the app's client secret.

One function signs and one verifies, so the receiver and the fake's sender cannot drift apart. The
signature is computed over the exact bytes on the wire: re-serialising parsed JSON would change them.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable


def sign(body: bytes, secret: str) -> str:
    """The `X-Shopify-Hmac-Sha256` value Shopify sends for `body` (standard base64, padded)."""
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def verify(body: bytes, header: str | None, secrets: Iterable[str | None]) -> int | None:
    """Which secret signed `body`: its position in `secrets` (current first, then previous), or None.

    Compared in constant time on bytes: `hmac.compare_digest` on `str` raises for non-ASCII input,
    and a forged header may hold anything.
    """
    if not header:
        return None
    presented = header.strip().encode("utf-8", "replace")
    for position, secret in enumerate(secrets):
        if secret and hmac.compare_digest(sign(body, secret).encode("ascii"), presented):
            return position
    return None
