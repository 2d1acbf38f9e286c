"""Fixtures: a Heartland fake on 127.0.0.1 per test, and adapters pointed at it through `make_adapter`."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest

from possync.adapters.heartland import HeartlandAdapter, make_adapter
from possync.adapters.heartland.fake import FakeServer
from possync.models.tenants import TenantSettings
from tests.adapters.heartland.helpers import CUSTOM_FIELDS, TOKEN

AdapterFactory = Callable[..., HeartlandAdapter]


class Clock:
    """The fake's clock: real time, unless a test sets `now` (seconds since the epoch) and moves it by hand."""

    def __init__(self) -> None:
        self.now: float | None = None

    def __call__(self) -> float:
        return time.time() if self.now is None else self.now


FAKE_CLOCK = Clock()


@pytest.fixture(scope="session")
def running_fake() -> Iterator[FakeServer]:
    """One server for the whole run: stopping one takes half a second (the serve loop's poll interval)."""
    server = FakeServer(api_token=TOKEN, requests_per_window=None, clock=FAKE_CLOCK)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def fake(running_fake: FakeServer) -> FakeServer:
    """The shared server, emptied: no records, faults, latency or logged requests; rate limit off."""
    running_fake.reset()
    running_fake.clear()
    running_fake.set_rate_limit(None)
    running_fake.api_token = TOKEN
    FAKE_CLOCK.now = None
    return running_fake


@pytest.fixture
def clock(fake: FakeServer) -> Clock:
    """The fake's clock, stopped at the present: records it stamps from now on are a test's to age."""
    FAKE_CLOCK.now = float(int(time.time()))
    return FAKE_CLOCK


@pytest.fixture
def make(fake: FakeServer) -> AdapterFactory:
    def build(custom_fields: dict[str, str] | None = None, token: str = TOKEN) -> HeartlandAdapter:
        settings = TenantSettings(heartland_custom_fields=CUSTOM_FIELDS if custom_fields is None else custom_fields)
        config = {"base_url": fake.url, "account_id": None, "domain_prefix": None, "subdomain": "acme"}
        secrets = {"access_token": token, "refresh_token": None, "client_id": None, "client_secret": None}
        return make_adapter(config, secrets, settings, None)

    return build


@pytest.fixture
def adapter(make: AdapterFactory) -> HeartlandAdapter:
    return make()
