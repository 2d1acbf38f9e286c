"""Fixtures: an X-Series fake on 127.0.0.1 per test, and adapters pointed at it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from possync.adapters.lightspeed_x import LightspeedXAdapter, make_adapter
from possync.adapters.lightspeed_x.fake import FakeServer
from possync.models.tenants import TenantSettings

AdapterFactory = Callable[..., LightspeedXAdapter]


@pytest.fixture(scope="session")
def running_fake() -> Iterator[FakeServer]:
    """One server for the session: stopping one costs half a second (the serve loop's poll interval)."""
    server = FakeServer(rate_limit=None)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def fake(running_fake: FakeServer) -> FakeServer:
    running_fake.clear()
    return running_fake


@pytest.fixture
def make(fake: FakeServer) -> AdapterFactory:
    """Build an adapter for `fake`; keyword arguments override secrets, `save_secrets` and settings."""

    def build(
        secrets: dict[str, Any] | None = None,
        save_secrets: Callable[[dict[str, Any]], None] | None = None,
        settings: TenantSettings | None = None,
    ) -> LightspeedXAdapter:
        config = {"base_url": fake.url, "domain_prefix": "fakestore", "account_id": None, "subdomain": None}
        return make_adapter(
            config, secrets or {"access_token": FakeServer.DEFAULT_TOKEN}, settings or TenantSettings(), save_secrets
        )

    return build


@pytest.fixture
def adapter(make: AdapterFactory) -> LightspeedXAdapter:
    return make()
