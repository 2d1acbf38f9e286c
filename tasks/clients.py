"""Building a tenant's POS adapter and Shopify client, wired to the shared limiter.

Every vendor request first asks the tenant's token bucket (a wait becomes `RateLimitedError`, which
the runner turns into a retry with a countdown), and every response's rate-limit headers correct
the bucket. Rotated OAuth tokens are committed, encrypted, before the new token is used.
"""

from __future__ import annotations

from typing import Any

from adapters.base import PosAdapter, VendorHttpClient
from adapters.errors import RateLimitedError
from adapters.ratelimit import RateLimitInfo
from adapters.registry import make_pos_adapter
from adapters.shopify.client import ShopifyClient
from models.db import session_scope
from models.tenants import TenantContext, save_pos_secrets
from worker import metrics
from worker.limiter import DEFAULT_BUCKETS, RateLimiter
from worker.runtime import limiter
from worker.settings import get_settings


def wire_limiter(client: VendorHttpClient, bucket_name: str, size_key: str, rate_limiter: RateLimiter,
                 tenant: str) -> None:
    size = DEFAULT_BUCKETS[size_key]
    calls = 0

    def before_request() -> None:
        # Only a step's first request may be told to wait: the rest of the step runs on credit, so a
        # multi-request write is never interrupted half-done (a half-done create would be repeated).
        nonlocal calls
        calls += 1
        wait = rate_limiter.acquire(bucket_name, size, on_credit=calls > 1)
        if wait > 0:
            metrics.LIMITER_WAITS.labels(vendor=size_key, tenant=tenant).inc()
            raise RateLimitedError("waiting for the tenant's rate-limit budget", retry_after=wait,
                                   vendor=client.vendor)

    def on_rate_limit(info: RateLimitInfo) -> None:
        rate_limiter.observe(bucket_name, info)
        if info.retry_after:
            metrics.RATE_LIMITED.labels(vendor=size_key, tenant=tenant).inc()

    client.before_request = before_request
    client.on_rate_limit = on_rate_limit


def pos_adapter_for(tenant: TenantContext) -> PosAdapter:
    settings = get_settings()

    def save_secrets(secrets: dict[str, Any]) -> None:
        with session_scope(settings.database_url) as session:
            save_pos_secrets(session, tenant.id, secrets, settings.require_secret_key())
        # The later steps of this run build their adapters from the same context: give them the new
        # pair, since the vendor has revoked the old refresh token.
        tenant.pos_secrets.clear()
        tenant.pos_secrets.update(secrets)

    adapter = make_pos_adapter(tenant, save_secrets)
    wire_limiter(adapter.client, f"pos:{tenant.name}", tenant.pos_kind.value, limiter(), tenant.name)
    return adapter


def shopify_client_for(tenant: TenantContext) -> ShopifyClient:
    client = ShopifyClient(
        tenant.shop_domain,
        tenant.shopify_secrets["access_token"],
        api_version=tenant.shopify_config.get("api_version") or "2026-07",
        base_url=tenant.shopify_config.get("api_base_url"),
    )
    return client
