"""A tenant's Shopify duplicates as last found (SPEC rule 51), kept for the console to list.

Finding them reads every Shopify customer and previews each group's merge: minutes for a large shop, so a
page never does it. `possync shopify duplicates` stores what it finds; the console's Scan button hands the
same search to a worker (inline without Redis, as `possync replay`); a merge takes the merged customer out
of the stored groups, so the page does not offer it again before the next scan.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from possync.adapters.shopify.client import ShopifyClient
from possync.models.tables import ShopifyDuplicateScan, Tenant
from possync.models.tenants import TenantContext, load_context, require_tenant
from possync.tasks.shopify_duplicates import DuplicateGroup, MergeResult, find_duplicate_groups, merge_customers
from possync.worker.celery_app import app
from possync.worker.logging import get_logger
from possync.worker.routing import POLL_QUEUE
from possync.worker.runtime import db_session
from possync.worker.settings import get_settings

log = get_logger("possync.duplicate_scan")


def _row(session: Session, tenant_id: int) -> ShopifyDuplicateScan:
    row = session.get(ShopifyDuplicateScan, tenant_id)
    if row is None:
        row = ShopifyDuplicateScan(tenant_id=tenant_id, status="queued", groups=[], requested_at=datetime.now(UTC))
        session.add(row)
    return row


def store(session: Session, tenant_id: int, groups: list[DuplicateGroup]) -> None:
    row = _row(session, tenant_id)
    row.status, row.groups, row.scanned_at, row.error = "done", [g.to_json() for g in groups], datetime.now(UTC), None
    session.flush()


def scan(session: Session, tenant: TenantContext, shopify: ShopifyClient | None = None) -> list[DuplicateGroup]:
    """Find the tenant's duplicate groups (Shopify's preview included) and store them."""
    groups = find_duplicate_groups(session, tenant, shopify)
    store(session, tenant.id, groups)
    return groups


def merge(session: Session, tenant: TenantContext, merged: str, into: str, **options: Any) -> MergeResult:
    """`merge_customers`, then the merged customer leaves the stored groups (a group left alone goes)."""
    result = merge_customers(session, tenant, merged, into, **options)
    row = session.get(ShopifyDuplicateScan, tenant.id)
    if result.status == "COMPLETED" and row is not None:
        kept = [{**g, "customers": [c for c in g["customers"] if c != merged]} for g in row.groups]
        row.groups = [g for g in kept if len(g["customers"]) > 1]
        session.flush()
    return result


def last_scans(session: Session) -> dict[int, ShopifyDuplicateScan]:
    """Every tenant's last scan (one row per tenant: what the matches page lists)."""
    return {row.tenant_id: row for row in session.scalars(select(ShopifyDuplicateScan))}


def request_scan(tenant_name: str) -> None:
    """The console's Scan: marked queued, then a worker's (with Redis) or this process's (without)."""
    with db_session() as session:
        tenant = require_tenant(session, tenant_name)
        row = _row(session, tenant.id)
        row.status, row.requested_at, row.error = "queued", datetime.now(UTC), None
        tenant_id = tenant.id
    if not get_settings().redis_url:
        scan_duplicates(tenant_id)
        return
    try:
        scan_duplicates.apply_async(args=[tenant_id], queue=POLL_QUEUE)
    except Exception as exc:  # not left "queued" for ever: the page says why, the operator tries again
        with db_session() as session:
            row = _row(session, tenant_id)
            row.status, row.error = "failed", f"not queued: {type(exc).__name__}: {exc}"[:500]
        raise


@app.task(name="possync.shopify.scan_duplicates")
def scan_duplicates(tenant_id: int) -> None:
    """A worker's scan; a failure is stored with its reason for the page (the operator scans again)."""
    with db_session() as session:
        record = session.get(Tenant, tenant_id)
        if record is None:
            return
        _row(session, tenant_id).status = "running"
        session.commit()
        try:
            groups = scan(session, load_context(record, get_settings().require_secret_key()))
        except Exception as exc:  # the page shows why; the worker stays up
            session.rollback()
            row = _row(session, tenant_id)
            row.status, row.error = "failed", f"{type(exc).__name__}: {exc}"[:500]
            log.warning("Shopify duplicate scan failed", tenant_id=tenant_id, error=row.error)
            return
        log.info("Shopify duplicates found", tenant_id=tenant_id, groups=len(groups))
