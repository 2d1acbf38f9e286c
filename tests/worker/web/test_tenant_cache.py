"""The per-process cache of shops' signing secrets: TTL, rotation, unknown shops."""

from __future__ import annotations

from tests.worker.web.conftest import CURRENT_SECRET, PREVIOUS_SECRET, SHOP, add_tenant
from worker.web.tenant_cache import TenantSecretsCache


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


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


def test_unknown_shops_are_not_cached(db_url: str, secret_key: str) -> None:
    cache = TenantSecretsCache(db_url, secret_key, ttl=3600, clock=Clock())
    assert cache.get(SHOP) is None
    add_tenant(db_url, secret_key)
    assert cache.get(SHOP) is not None  # a tenant applied a moment later is served at once
