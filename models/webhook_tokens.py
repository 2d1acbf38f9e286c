"""The secret in a tenant's X-Series webhook URL: `/webhooks/lightspeed-x/<tenant>/<token>`.

X-Series signs nothing, so the URL itself is the credential: without the token a stranger can neither
store a hint (each one a re-read from the tenant's rate-limited budget) nor learn which tenant names
exist. Stored encrypted like the other credentials; `possync tenant webhook-url` prints it.
"""

from __future__ import annotations

import hmac
import secrets

from possync.models.crypto import decrypt_json, encrypt_json
from possync.models.tables import PosKind, Tenant

PATH_PREFIX = "/webhooks/lightspeed-x"


def wants_token(tenant: Tenant) -> bool:
    return tenant.pos_kind == PosKind.LIGHTSPEED_X.value


def issue(tenant: Tenant, key: str) -> str:
    """A new token for the tenant (the old URL stops working); returns it in clear."""
    token = secrets.token_urlsafe(32)
    tenant.webhook_token = encrypt_json({"token": token}, key)
    return token


def ensure(tenant: Tenant, key: str) -> str:
    """The tenant's token, issued on first use."""
    return reveal(tenant.webhook_token, key) if tenant.webhook_token else issue(tenant, key)


def reveal(stored: str, key: str) -> str:
    return str(decrypt_json(stored, key)["token"])


def matches(expected: str | None, given: str) -> bool:
    """Constant-time comparison; no token stored matches nothing."""
    return expected is not None and hmac.compare_digest(expected.encode(), given.encode())


def url_path(name: str, token: str) -> str:
    return f"{PATH_PREFIX}/{name}/{token}"
