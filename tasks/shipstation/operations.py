"""The `possync shipstation ...` commands' work: read, export, duplicates, each in the calling process.

Reading takes its turns from the workers' shared limiter (bucket `shipstation:<tenant>`), sleeping
through waits; a 429's cooldown holds every worker of the tenant's key pair too.
"""

from __future__ import annotations

import os
import random
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from possync.adapters.errors import RateLimitedError
from possync.adapters.shipstation.client import WINDOW_SECONDS, ShipStationClient
from possync.models.shopify_values import ShopifyCustomer
from possync.models.tables import ShipStationRead, Tenant
from possync.models.tenants import context_by_name, get_tenant, shipstation_of
from possync.tasks.clients import shipstation_client_for, shopify_client_for
from possync.tasks.shipstation import export as exporting
from possync.tasks.shipstation.columns import Header, builtin_header, header_from_template
from possync.tasks.shipstation.duplicates import Group, merge_plan
from possync.tasks.shipstation.read import ReadSummary, read_customers
from possync.tasks.shipstation.tags import tag_key
from possync.tasks.waiting import patiently


class NoShipStationError(LookupError):
    """The tenant has no `shipstation` block (a one-line CLI error)."""


def _tenant(session: Session, name: str) -> Tenant:
    tenant = get_tenant(session, name)
    if tenant is None:
        raise LookupError(f"no tenant named {name!r}")
    return tenant


def _block(tenant: Tenant, key: str) -> tuple[dict[str, Any], dict[str, Any]]:
    block = shipstation_of(tenant, key)
    if block is None:
        raise NoShipStationError(f"tenant {tenant.name!r} has no shipstation block in its tenant file")
    return block


def _sleep(exc: RateLimitedError) -> None:
    time.sleep(exc.countdown(jitter=random.uniform(0, 0.1)))


def read_here(session: Session, name: str, key: str, *, full: bool = False, page_size: int = 500,
              window_seconds: float = WINDOW_SECONDS,
              on_wait: Callable[[RateLimitedError], None] = _sleep) -> ReadSummary:
    tenant = _tenant(session, name)
    config, secrets = _block(tenant, key)
    region = (tenant.settings or {}).get("default_phone_region", "US")

    def make_client() -> ShipStationClient:
        return shipstation_client_for(tenant.name, config, secrets, window_seconds=window_seconds)

    return read_customers(session, tenant.id, make_client, region=region, on_wait=on_wait, page_size=page_size,
                          full=full)


def _shopify_pages(session: Session, name: str, key: str) -> Iterator[list[ShopifyCustomer]]:
    shopify = shopify_client_for(context_by_name(session, name, key))
    after: str | None = None
    while True:
        page = patiently(lambda: shopify.list_customers(after, with_address=True, with_tags=True), sleep=time.sleep)  # noqa: B023
        yield page.customers
        if not page.has_next:
            return
        after = page.end_cursor


def export_here(session: Session, name: str, key: str, out: str, template: str | None = None,
                pages: Iterator[list[ShopifyCustomer]] | None = None) -> tuple[exporting.Summary, Header, list[str]]:
    """Write the import file to `out` (whole or not at all: a temporary file renamed at the end).
    Returns the summary, the header used, and the rule tags ShipStation's account does not have."""
    tenant = _tenant(session, name)
    config, _ = _block(tenant, key)
    header = header_from_template(_read(template)) if template else builtin_header()
    rules: dict[str, str] = dict(config.get("tag_rules") or {})
    region = (tenant.settings or {}).get("default_phone_region", "US")
    state = session.get(ShipStationRead, tenant.id)
    if state is None or state.last_read_at is None:
        raise NoShipStationError(f"ShipStation customers of {name!r} were never read; run "
                                 f"`possync shipstation read --tenant {name}` first")
    known = {tag_key(str(t.get("name") or "")) for t in state.tags or []}
    missing_tags = sorted({t for t in rules.values() if tag_key(t) not in known}, key=str.casefold)
    summary = exporting.Summary()
    tenant_id = tenant.id
    session.rollback()
    source = pages if pages is not None else _shopify_pages(session, name, key)
    target = Path(out)
    try:
        handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent or Path("."))
    except OSError as exc:
        raise LookupError(f"cannot write {out}: {exc.strerror}") from None
    try:
        with os.fdopen(handle, "wb") as stream:
            exporting.write(stream, header, exporting.rows(session, tenant_id, source, rules, region, summary))
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return summary, header, missing_tags


def _read(path: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise LookupError(f"cannot read the template {path}: {exc.strerror}") from None


def duplicates_here(session: Session, name: str, key: str) -> list[Group]:
    tenant = _tenant(session, name)
    _block(tenant, key)
    return list(merge_plan(session, tenant.id))

