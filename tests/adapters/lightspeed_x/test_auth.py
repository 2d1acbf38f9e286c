"""Bearer auth and OAuth refresh-token rotation (since 2025-03 the old refresh token is revoked)."""

from __future__ import annotations

from typing import Any

import pytest

from possync.adapters.errors import AuthenticationError
from possync.adapters.lightspeed_x.fake import FakeServer
from tests.adapters.lightspeed_x.conftest import AdapterFactory

UNKNOWN_ID = "0af7b240-ab83-11e7-eddc-4023c64c85e5"


def _oauth(access_token: str = "stale-token", refresh_token: str = FakeServer.DEFAULT_REFRESH_TOKEN) -> dict[str, Any]:
    return {
        "access_token": access_token,
        "refresh_token": refresh_token,
        "client_id": FakeServer.DEFAULT_CLIENT_ID,
        "client_secret": FakeServer.DEFAULT_CLIENT_SECRET,
    }


def test_personal_token_is_sent_as_bearer(fake: FakeServer, make: AdapterFactory) -> None:
    make().get_customer(UNKNOWN_ID)
    assert fake.token_uses == [FakeServer.DEFAULT_TOKEN]


def test_personal_token_rejected_is_an_auth_error_without_refresh(fake: FakeServer, make: AdapterFactory) -> None:
    adapter = make({"access_token": "wrong"})
    with pytest.raises(AuthenticationError, match="reconnect"):
        adapter.get_customer(UNKNOWN_ID)
    assert fake.count_requests() == 1 and fake.count_requests("POST", "/token") == 0


def test_401_refreshes_once_and_saves_new_tokens_before_using_them(fake: FakeServer, make: AdapterFactory) -> None:
    saved: list[dict[str, Any]] = []

    def save(secrets: dict[str, Any]) -> None:
        assert secrets["access_token"] not in fake.token_uses, "new access token used before it was saved"
        saved.append(secrets)

    adapter = make(_oauth(), save_secrets=save)
    assert adapter.get_customer(UNKNOWN_ID) is None

    assert len(saved) == 1
    new = saved[0]
    assert new["refresh_token"] != FakeServer.DEFAULT_REFRESH_TOKEN  # rotated
    assert new["client_id"] == FakeServer.DEFAULT_CLIENT_ID and new["client_secret"] == FakeServer.DEFAULT_CLIENT_SECRET
    assert fake.token_uses == ["stale-token", new["access_token"]]
    assert [(r.method, r.path, r.status) for r in fake.vendor_requests()] == [
        ("GET", f"/api/2.0/customers/{UNKNOWN_ID}", 401),
        ("POST", "/api/1.0/token", 200),
        ("GET", f"/api/2.0/customers/{UNKNOWN_ID}", 404),
    ]
    assert FakeServer.DEFAULT_REFRESH_TOKEN not in fake.refresh_tokens  # the vendor revoked the old one


def test_the_rotated_refresh_token_is_the_one_used_next_time(fake: FakeServer, make: AdapterFactory) -> None:
    saved: list[dict[str, Any]] = []
    adapter = make(_oauth(), save_secrets=saved.append)
    adapter.get_customer(UNKNOWN_ID)
    fake.expire_access_tokens()
    adapter.get_customer(UNKNOWN_ID)
    assert len(saved) == 2 and saved[1]["refresh_token"] != saved[0]["refresh_token"]


def test_an_old_refresh_token_is_refused(fake: FakeServer, make: AdapterFactory) -> None:
    make(_oauth(), save_secrets=lambda s: None).get_customer(UNKNOWN_ID)  # rotates the refresh token
    stale = make(_oauth(), save_secrets=lambda s: None)  # still holds the revoked one
    with pytest.raises(AuthenticationError, match="refresh token was rejected"):
        stale.get_customer(UNKNOWN_ID)


def test_second_401_after_refresh_is_an_auth_error(fake: FakeServer, make: AdapterFactory) -> None:
    fake.reject_tokens = True
    saved: list[dict[str, Any]] = []
    adapter = make(_oauth(), save_secrets=saved.append)
    with pytest.raises(AuthenticationError):
        adapter.get_customer(UNKNOWN_ID)
    assert len(saved) == 1
    assert [(r.method, r.status) for r in fake.vendor_requests()] == [("GET", 401), ("POST", 200), ("GET", 401)]


def test_a_failing_save_stops_the_new_token_being_used(fake: FakeServer, make: AdapterFactory) -> None:
    def broken(secrets: dict[str, Any]) -> None:
        raise RuntimeError("database down")

    adapter = make(_oauth(), save_secrets=broken)
    with pytest.raises(RuntimeError, match="database down"):
        adapter.get_customer(UNKNOWN_ID)
    assert fake.token_uses == ["stale-token"]
    assert adapter.client.secrets["access_token"] == "stale-token"


def test_refresh_without_a_saver_keeps_tokens_in_memory(fake: FakeServer, make: AdapterFactory) -> None:
    adapter = make(_oauth())
    adapter.get_customer(UNKNOWN_ID)
    assert adapter.client.secrets["access_token"] == fake.token_uses[-1] != "stale-token"
