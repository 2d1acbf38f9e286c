"""The rotating OAuth refresh shared by the Lightspeed clients."""

from __future__ import annotations

from typing import Any

import pytest

from possync.adapters import oauth
from possync.adapters.base import VendorHttpClient
from possync.adapters.errors import BadResponseError

OLD = {"access_token": "a1", "refresh_token": "r1", "client_id": "c", "client_secret": "s"}
CLIENT = VendorHttpClient("http://127.0.0.1:9")  # only its error helper is used


def test_the_form_carries_the_grant_and_the_three_keys() -> None:
    assert oauth.refresh_form(OLD) == {"grant_type": "refresh_token", "refresh_token": "r1", "client_id": "c",
                                       "client_secret": "s"}
    assert oauth.can_refresh(OLD) and not oauth.can_refresh({**OLD, "client_secret": ""})


def test_the_new_pair_is_saved_before_it_is_returned() -> None:
    saved: list[dict[str, Any]] = []
    new = oauth.rotated_secrets(CLIENT, OLD, {"access_token": "a2", "refresh_token": "r2"}, "POST /t", saved.append)
    assert saved == [new] and new == {**OLD, "access_token": "a2", "refresh_token": "r2"}


def test_an_answer_without_a_refresh_token_keeps_the_old_one() -> None:
    assert oauth.rotated_secrets(CLIENT, OLD, {"access_token": "a2"}, "POST /t", None)["refresh_token"] == "r1"


def test_a_failed_save_stops_the_rotation() -> None:
    def refuse(_: dict[str, Any]) -> None:
        raise OSError("database down")

    with pytest.raises(OSError):
        oauth.rotated_secrets(CLIENT, OLD, {"access_token": "a2", "refresh_token": "r2"}, "POST /t", refuse)


@pytest.mark.parametrize("body", [[], {"refresh_token": "r2"}, {"access_token": ""},
                                  {"access_token": "a2", "refresh_token": ""}])
def test_a_malformed_answer_names_the_field(body: Any) -> None:
    with pytest.raises(BadResponseError):
        oauth.rotated_secrets(CLIENT, OLD, body, "POST /t", None)
