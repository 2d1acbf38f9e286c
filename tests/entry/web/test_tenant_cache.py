"""The per-process cache of shops' signing secrets: TTL, rotation, unknown shops."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest
from sqlalchemy import event

from possync.entry.web.tenant_cache import TenantSecretsCache
from possync.models import tenants
from possync.models.db import get_engine
from tests.entry.web.conftest import CURRENT_SECRET, PREVIOUS_SECRET, SHOP, add_tenant


@pytest.fixture
def applied_elsewhere(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tenants applied by another process (`possync tenant apply`): this process hears nothing of them."""
    monkeypatch.setattr(tenants, "_announce_after_commit", lambda session, shop: None)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.usefixtures("applied_elsewhere")
def test_secrets_are_cached_until_the_ttl_then_reloaded(db_url: str, secret_key: str) -> None:
    tenant_id = add_tenant(db_url, secret_key)
    clock = Clock()
    cache = TenantSecretsCache(db_url, secret_key, ttl=30, clock=clock)

    entry = cache.get(" ACME.myshopify.com ")
    assert entry.tenant_id == tenant_id and entry.secrets == (CURRENT_SECRET, PREVIOUS_SECRET)

    add_tenant(db_url, secret_key, secret="rotated", previous=CURRENT_SECRET)
    clock.now += 29
    assert cache.get(SHOP).secrets == (CURRENT_SECRET, PREVIOUS_SECRET)  # within the TTL: no reload
    clock.now += 2
    assert cache.get(SHOP).secrets == ("rotated", CURRENT_SECRET)


@contextlib.contextmanager
def counted_statements(db_url: str) -> Iterator[list[str]]:
    statements: list[str] = []
    engine = get_engine(db_url)

    def count(_conn, _cursor, statement, *_args) -> None:  # type: ignore[no-untyped-def]
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", count)


def test_unknown_shops_cost_no_query_within_the_known_shops_ttl(db_url: str, secret_key: str) -> None:
    clock = Clock()
    cache = TenantSecretsCache(db_url, secret_key, ttl=30, clock=clock, known_ttl=5)
    with counted_statements(db_url) as statements:
        assert cache.get(SHOP) is None
        assert len(statements) == 1  # the known shops, read once
        for i in range(200):  # a flood under made-up shop domains, and the same one again
            assert cache.get(f"made-up-{i}.myshopify.com") is None and cache.get(SHOP) is None
        assert len(statements) == 1


@pytest.mark.usefixtures("applied_elsewhere")
def test_a_tenant_applied_afterwards_is_served_within_the_known_shops_ttl(db_url: str, secret_key: str) -> None:
    clock = Clock()
    cache = TenantSecretsCache(db_url, secret_key, ttl=30, clock=clock, known_ttl=5)
    assert cache.get(SHOP) is None
    tenant_id = add_tenant(db_url, secret_key)
    clock.now += 4.9
    assert cache.get(SHOP) is None  # still the set read a moment ago
    clock.now += 0.2
    entry = cache.get(SHOP)
    assert entry is not None and entry.tenant_id == tenant_id


def test_a_tenant_applied_in_this_process_is_served_at_once(db_url: str, secret_key: str) -> None:
    clock = Clock()
    cache = TenantSecretsCache(db_url, secret_key, ttl=30, clock=clock, known_ttl=5)
    assert cache.get(SHOP) is None
    tenant_id = add_tenant(db_url, secret_key)
    entry = cache.get(SHOP)  # no time has passed: the apply dropped the known-shops set
    assert entry is not None and entry.tenant_id == tenant_id
    add_tenant(db_url, secret_key, secret="rotated", previous=CURRENT_SECRET)
    assert cache.get(SHOP).secrets == ("rotated", CURRENT_SECRET)  # type: ignore[union-attr]


@pytest.mark.usefixtures("applied_elsewhere")
def test_the_known_shops_ttl_never_exceeds_the_secrets_ttl(db_url: str, secret_key: str) -> None:
    cache = TenantSecretsCache(db_url, secret_key, ttl=0, clock=Clock())
    assert cache.get(SHOP) is None
    add_tenant(db_url, secret_key)
    assert cache.get(SHOP) is not None  # ttl=0 (the demo): a tenant applied a moment later is served at once
