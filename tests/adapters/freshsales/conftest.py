"""A started Freshsales fake and an adapter talking HTTP to it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from possync.adapters.freshsales import make_adapter
from possync.adapters.freshsales.adapter import FreshsalesAdapter
from possync.adapters.freshsales.fake import FakeFreshsales

KEY = "fs-key-0123456789abcdef"


@pytest.fixture
def fake() -> Iterator[FakeFreshsales]:
    server = FakeFreshsales(KEY, with_setup=True)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def adapter(fake: FakeFreshsales) -> FreshsalesAdapter:
    return make_adapter({"base_url": fake.url}, {"api_key": KEY}, default_429_wait=0.5)
