"""OAuth against the fake: one refresh on 401, rotating refresh tokens saved before use, second 401 fatal."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import requests

from possync.adapters.errors import AuthenticationError, ErrorAction
from possync.adapters.lightspeed_r import LightspeedRAdapter, make_adapter
from possync.adapters.lightspeed_r.fake import FakeServer
from possync.models.tenants import TenantSettings
from tests.adapters.lightspeed_r.helpers import OAUTH_SECRETS, running


def test_401_refreshes_once_and_repeats(fake: FakeServer, adapter: LightspeedRAdapter, saved: list) -> None:
    (pos_id,) = fake.seed([{"first_name": "Jane"}])
    fake.expire_access_tokens()
    found = adapter.get_customer(pos_id)
    assert found is not None and found.customer.first_name == "Jane"
    assert [(r.method, r.path.rsplit("/", 1)[-1], r.status) for r in fake.vendor_requests()] == [
        ("GET", f"{pos_id}.json", 401), ("POST", "token", 200), ("GET", f"{pos_id}.json", 200)]
    (grant,) = fake.refresh_log
    assert grant["old_refresh_token"] == "fake-refresh-token"
    assert saved == [{**OAUTH_SECRETS, "access_token": grant["access_token"], "refresh_token": grant["refresh_token"]}]
    # Rotation: once the new access token is used, the old refresh token is dead and the new one lives.
    assert not fake.refresh_token_valid("fake-refresh-token")
    assert fake.refresh_token_valid(grant["refresh_token"])
    # Later calls use the new token without refreshing again.
    adapter.get_customer(pos_id)
    assert len(fake.refresh_log) == 1 and len(saved) == 1


def test_new_tokens_are_saved_before_the_new_access_token_is_used(fake: FakeServer, make: Callable) -> None:
    seen_at_save: list[tuple[bool, bool]] = []

    def save(secrets: dict[str, Any]) -> None:
        # At this moment the vendor must not have seen the new access token yet.
        seen_at_save.append((fake.access_token_used(secrets["access_token"]),
                             fake.refresh_token_valid("fake-refresh-token")))

    config = {"base_url": fake.url, "account_id": fake.account_id}
    adapter = make_adapter(config, dict(OAUTH_SECRETS), TenantSettings(), save)
    fake.expire_access_tokens()
    adapter.get_customer("1")
    assert seen_at_save == [(False, True)]  # not used yet; the old refresh token is still good
    assert fake.access_token_used(fake.refresh_log[0]["access_token"])


def test_failed_save_means_the_new_token_is_never_used(fake: FakeServer) -> None:
    def broken_save(secrets: dict[str, Any]) -> None:
        raise OSError("database down")

    config = {"base_url": fake.url, "account_id": fake.account_id}
    adapter = make_adapter(config, dict(OAUTH_SECRETS), TenantSettings(), broken_save)
    fake.expire_access_tokens()
    with pytest.raises(OSError):
        adapter.get_customer("1")
    new_access = fake.refresh_log[0]["access_token"]
    assert not fake.access_token_used(new_access)
    assert fake.refresh_token_valid("fake-refresh-token")  # so the next attempt can still refresh


def test_second_401_after_refresh_is_authentication_error(make: Callable, saved: list) -> None:
    with running(FakeServer(access_token_ttl=0)) as server:  # every token it issues is already expired
        adapter = make(server)
        with pytest.raises(AuthenticationError) as caught:
            adapter.get_customer("1")
        assert caught.value.action is ErrorAction.FATAL and caught.value.http_status == 401
        assert [r.status for r in server.vendor_requests()] == [401, 200, 401]
        assert len(saved) == 1  # the rotated tokens were still stored


def test_revoked_refresh_token_is_authentication_error(fake: FakeServer, make: Callable) -> None:
    first = make(fake)
    fake.expire_access_tokens()
    first.get_customer("1")  # rotates: the original refresh token is now revoked
    stale = make(fake)  # a second worker still holding the old secrets
    fake.expire_access_tokens()
    with pytest.raises(AuthenticationError, match="invalid_grant"):
        stale.get_customer("1")


def test_wrong_client_secret_is_authentication_error(fake: FakeServer, make: Callable) -> None:
    adapter = make(fake, {**OAUTH_SECRETS, "client_secret": "wrong"})
    fake.expire_access_tokens()
    with pytest.raises(AuthenticationError, match="invalid_client"):
        adapter.get_customer("1")


def test_missing_access_token_gets_one_by_refresh(fake: FakeServer, make: Callable, saved: list) -> None:
    adapter = make(fake, {**OAUTH_SECRETS, "access_token": None})
    assert adapter.get_customer("1") is None  # 404 after the refresh: authenticated
    assert len(saved) == 1 and [r.status for r in fake.vendor_requests()] == [401, 200, 404]


def test_fake_token_endpoint_accepts_json_and_form(fake: FakeServer) -> None:
    body = {"grant_type": "refresh_token", "refresh_token": "fake-refresh-token", "client_id": "fake-client-id",
            "client_secret": "fake-client-secret"}
    answer = requests.post(f"{fake.url}/auth/oauth/token", json=body, timeout=5).json()
    assert answer["token_type"] == "Bearer" and answer["expires_in"] == 3600
    assert answer["refresh_token"] != "fake-refresh-token"
    again = requests.post(f"{fake.url}/auth/oauth/token", data={**body, "refresh_token": answer["refresh_token"]},
                          timeout=5)
    assert again.status_code == 200
    bad = requests.post(f"{fake.url}/auth/oauth/token", data={**body, "refresh_token": "nope"}, timeout=5)
    assert bad.status_code == 400 and bad.json()["error"] == "invalid_grant"
