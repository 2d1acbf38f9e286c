"""Fixtures: a fresh R-Series fake on 127.0.0.1 per test and an adapter pointed at it over real HTTP."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from possync.adapters.lightspeed_r import LightspeedRAdapter, make_adapter
from possync.adapters.lightspeed_r.fake import FakeServer
from possync.models.tenants import TenantSettings
from tests.adapters.lightspeed_r.helpers import OAUTH_SECRETS, running

ACCOUNT = "12345"


@pytest.fixture
def fake() -> Iterator[FakeServer]:
    with running(FakeServer(account_id=ACCOUNT)) as server:
        yield server


@pytest.fixture
def saved() -> list[dict[str, Any]]:
    """Every secrets dict the adapter asked to store, in order."""
    return []


@pytest.fixture
def make(saved: list[dict[str, Any]]) -> Callable[..., LightspeedRAdapter]:
    """Build an adapter for a given fake; secrets default to the fake's OAuth credentials."""

    def build(server: FakeServer, secrets: dict[str, Any] | None = None, **settings: Any) -> LightspeedRAdapter:
        config = {"base_url": server.url, "account_id": server.account_id, "domain_prefix": None, "subdomain": None}
        return make_adapter(config, dict(secrets or OAUTH_SECRETS), TenantSettings(**settings), saved.append)

    return build


@pytest.fixture
def adapter(fake: FakeServer, make: Callable[..., LightspeedRAdapter]) -> LightspeedRAdapter:
    return make(fake)
