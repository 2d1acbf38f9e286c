"""Building a tenant's POS adapter and Shopify client, wired to the shared limiter.

Every vendor request first asks its bucket (the tenant's POS bucket; the shop's Shopify query-cost
points): a wait becomes `BudgetWaitError`, which the runner turns into a retry with a countdown that
carries the job's turn, and every response's rate-limit reading corrects the bucket. Rotated OAuth
tokens are committed, encrypted, before the new token is used.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from possync.adapters.base import PosAdapter, VendorHttpClient
from possync.adapters.errors import BudgetWaitError
from possync.adapters.ratelimit import RateLimitInfo
from possync.adapters.registry import make_crm_adapter, make_pos_adapter
from possync.adapters.shipstation.client import WINDOW_SECONDS, ShipStationClient, base_url_for
from possync.adapters.shopify.client import DEFAULT_API_VERSION, ShopifyClient
from possync.models.db import session_scope
from possync.models.tenants import TenantContext, save_pos_secrets
from possync.worker import metrics
from possync.worker.limiter import DEFAULT_BUCKETS, RateLimiter, Window, crm_windows
from possync.worker.runtime import limiter
from possync.worker.settings import get_settings

# The turn a job was given when it was last told to wait (epoch seconds), for its first limited request.
_held_turn: ContextVar[float | None] = ContextVar("held_turn", default=None)
EARLY_TOLERANCE_SECONDS = 0.25  # clocks of different machines, and countdown jitter


@contextmanager
def held_turn(at: float | None) -> Iterator[None]:
    """Run with the turn this job holds (the runner sets it for the step that waited)."""
    token = _held_turn.set(at)
    try:
        yield
    finally:
        _held_turn.reset(token)


def _one_unit() -> float:
    return 1.0


def _nothing() -> float:
    return 0.0


def wire_limiter(client: VendorHttpClient, bucket_name: str, size_key: str, rate_limiter: RateLimiter,
                 tenant: str, *, cost: Callable[[], float] = _one_unit,
                 refund: Callable[[], float] = _nothing) -> None:
    """`cost`: what the request about to be sent is charged (a vendor-reported price learnt by the
    bucket overrides it); `refund`: what the vendor gave back of it, read after each response."""
    size = DEFAULT_BUCKETS[size_key]
    calls = 0

    def before_request() -> None:
        # Only a step's first request may be told to wait: the rest of the step runs on credit, so a
        # multi-request write is never interrupted half-done (a half-done create would be repeated).
        nonlocal calls
        calls += 1
        if calls > 1:
            rate_limiter.acquire(bucket_name, size, cost(), on_credit=True)
            return
        turn = _held_turn.get()
        if turn is not None and turn - time.time() > EARLY_TOLERANCE_SECONDS:
            # Woken before its turn (countdowns are capped): wait again for the same turn.
            raise BudgetWaitError(turn - time.time(), turn_at=turn, vendor=client.vendor)
        grant = rate_limiter.acquire(bucket_name, size, cost(), holds_turn=turn is not None)
        if grant.wait > 0:
            metrics.LIMITER_WAITS.labels(vendor=size_key, tenant=tenant).inc()
            raise BudgetWaitError(grant.wait, turn_at=time.time() + grant.wait if grant.turn else None,
                                  vendor=client.vendor)
        _held_turn.set(None)

    def on_rate_limit(info: RateLimitInfo) -> None:
        rate_limiter.observe(bucket_name, info, refund())
        if info.retry_after:
            metrics.RATE_LIMITED.labels(vendor=size_key, tenant=tenant).inc()

    client.before_request = before_request
    client.on_rate_limit = on_rate_limit


def count_requests(client: VendorHttpClient, pos: str) -> None:
    """Each POS request in `possync_pos_requests_total`, by status (`error`: no answer)."""
    def count(status: int | None) -> None:
        metrics.POS_REQUESTS.labels(pos=pos, status=str(status) if status is not None else "error").inc()

    client.on_response = count


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
    count_requests(adapter.client, tenant.pos_kind.value)
    return adapter


def shipstation_client_for(tenant_name: str, config: dict[str, Any], secrets: dict[str, Any], *,
                           window_seconds: float = WINDOW_SECONDS) -> ShipStationClient:
    """The tenant's ShipStation client on the bucket `shipstation:<tenant>` (its key pair's window)."""
    client = ShipStationClient(base_url_for(config), secrets["api_key"], secrets["api_secret"],
                               window_seconds=window_seconds)
    wire_limiter(client, f"shipstation:{tenant_name}", "shipstation", limiter(), tenant_name)
    return client


def shopify_client_for(tenant: TenantContext) -> ShopifyClient:
    client = ShopifyClient(
        tenant.shop_domain,
        tenant.shopify_secrets["access_token"],
        api_version=tenant.shopify_config.get("api_version") or DEFAULT_API_VERSION,
        base_url=tenant.shopify_config.get("api_base_url"),
    )
    # Shopify's query-cost bucket is per app per shop: one bucket per shop domain, charged each query's
    # requested points before it is sent, so a backlog waits its turn instead of meeting THROTTLED.
    wire_limiter(client, f"shopify:{tenant.shop_domain}", "shopify", limiter(), tenant.name,
                 cost=lambda: client.query_cost, refund=lambda: client.refund)
    return client


def crm_bucket(tenant_name: str) -> str:
    """The CRM's bucket in the shared limiter, beside `pos:<tenant>` (ARCHITECTURE "Destinations")."""
    return f"crm:{tenant_name}"


def tenant_crm_windows(tenant: TenantContext) -> tuple[Window, ...]:
    return crm_windows(int(tenant.crm_config.get("requests_per_hour") or 1000))


def wire_window_limiter(client: VendorHttpClient, bucket: str, windows: tuple[Window, ...],
                        rate_limiter: RateLimiter, tenant: str, *,
                        wait: Callable[[BudgetWaitError], None] | None = None) -> None:
    """The windows' counterpart of `wire_limiter`: a booked place is kept, so a woken job just goes.

    `wait`: what a caller outside a worker does with a wait (the backfill sleeps); by default the wait
    is raised for the runner to turn into a countdown that carries the booked time.
    """
    calls = 0

    def before_request() -> None:
        nonlocal calls
        calls += 1
        turn = _held_turn.get()
        if calls == 1 and turn is not None:
            _held_turn.set(None)
            if turn - time.time() > EARLY_TOLERANCE_SECONDS:
                raise BudgetWaitError(turn - time.time(), turn_at=turn, vendor=client.vendor)
            return  # its place was booked when it was told to wait
        # In a worker the client serves one step, whose later requests go on credit; a command's client
        # (`wait` given) serves one request after another, each of which takes its place.
        grant = rate_limiter.acquire_windows(bucket, windows, on_credit=calls > 1 and wait is None)
        if grant.wait > 0:
            metrics.LIMITER_WAITS.labels(vendor=client.vendor, tenant=tenant).inc()
            error = BudgetWaitError(grant.wait, turn_at=time.time() + grant.wait, vendor=client.vendor)
            if wait is None:
                raise error
            wait(error)

    def on_rate_limit(info: RateLimitInfo) -> None:
        if info.retry_after:
            rate_limiter.cooldown(bucket, info.retry_after)
            metrics.RATE_LIMITED.labels(vendor=client.vendor, tenant=tenant).inc()

    client.before_request = before_request
    client.on_rate_limit = on_rate_limit


def crm_adapter_for(tenant: TenantContext, *, wait: Callable[[BudgetWaitError], None] | None = None,
                    **client_options: Any) -> Any:
    """The tenant's CRM adapter on its own bucket `crm:<tenant>` with both windows (SPEC rule 44)."""
    adapter = make_crm_adapter(tenant, **client_options)
    wire_window_limiter(adapter.client, crm_bucket(tenant.name), tenant_crm_windows(tenant), limiter(), tenant.name,
                        wait=wait)
    return adapter
