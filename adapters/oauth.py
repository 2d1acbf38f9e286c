"""The rotating OAuth refresh both Lightspeed clients share: once a new refresh token is issued the old one
is revoked, so the new pair is saved before the new access token is ever used."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from possync.adapters.base import VendorHttpClient

REFRESH_KEYS = ("refresh_token", "client_id", "client_secret")


def can_refresh(secrets: Mapping[str, Any]) -> bool:
    return all(secrets.get(key) for key in REFRESH_KEYS)


def refresh_form(secrets: Mapping[str, Any]) -> dict[str, str]:
    """The `refresh_token` grant's fields (sent as a form or as JSON, as the vendor takes them)."""
    return {"grant_type": "refresh_token", **{key: secrets[key] for key in REFRESH_KEYS}}


def rotated_secrets(client: VendorHttpClient, secrets: Mapping[str, Any], body: Any, endpoint: str,
                    save: Callable[[dict[str, Any]], None] | None) -> dict[str, Any]:
    """The secrets after a token answer, handed to `save` first: if saving raises, the caller keeps the old
    pair, whose refresh token is still valid. A missing `refresh_token` keeps the old one."""
    if not isinstance(body, dict):
        raise client.bad_field(endpoint, "(body)", "is not an object")
    access = body.get("access_token")
    if not isinstance(access, str) or not access:
        raise client.bad_field(endpoint, "access_token")
    refresh = body.get("refresh_token")
    if refresh is not None and (not isinstance(refresh, str) or not refresh):
        raise client.bad_field(endpoint, "refresh_token", "should be a non-empty string")
    new_secrets = {**secrets, "access_token": access, "refresh_token": refresh or secrets["refresh_token"]}
    if save is not None:
        save(dict(new_secrets))
    return new_secrets
