"""A private Redis Sentinel group (primary, replica, two sentinels) for the tests of every Redis use."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.resilience.servers import SentinelGroup, running_sentinel_group
from worker.settings import Settings, load_settings


@pytest.fixture(scope="session")
def sentinel_group(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SentinelGroup]:
    with running_sentinel_group(tmp_path_factory.mktemp("sentinel")) as group:
        yield group


@pytest.fixture
def sentinel_settings(sentinel_group: SentinelGroup) -> Iterator[Settings]:
    """Settings on the group's `sentinel://` URL; its keys are flushed afterwards."""
    yield load_settings(sentinel_group.env())
    sentinel_group.ensure_running()
    sentinel_group.flush()
