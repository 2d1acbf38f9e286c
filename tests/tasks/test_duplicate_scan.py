"""The Shopify duplicates kept for the console (rule 51): a scan stores what it found, a merge takes the merged
customer out, a failed scan keeps its reason; the console's request runs inline without Redis."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy.orm import Session

from possync.adapters.shopify.fake import FakeShopify
from possync.models.db import session_scope
from possync.models.tables import ShopifyDuplicateScan
from possync.models.tenant_file import validate_tenant_data
from possync.models.tenants import TenantContext, apply_tenant, load_context
from possync.tasks import duplicate_scan


def dup_shop(session: Session, secret_key: str) -> tuple[FakeShopify, TenantContext]:
    """Tenant `dup` on a started Shopify fake (the POS is never called); the caller stops the fake."""
    shopify = FakeShopify("shpat_dup", shop_domain="dup.myshopify.com", maximum_available=None)
    shopify.start()
    data = {"name": "dup", "account_name": "dupstore",
            "shopify": {"shop_domain": "dup.myshopify.com", "access_token": "shpat_dup", "client_secret": "s",
                        "api_base_url": shopify.url},
            "pos": {"kind": "lightspeed-r", "account_id": "1", "access_token": "pos-token"}}
    tenant, _ = apply_tenant(session, validate_tenant_data(data), secret_key)
    session.commit()
    return shopify, load_context(tenant, secret_key)


@pytest.fixture
def shop(db_url: str, session: Session, secret_key: str, activate_env) -> Iterator[dict[str, Any]]:  # type: ignore[no-untyped-def]
    activate_env(POSSYNC_DATABASE_URL=db_url)  # no Redis: the console's request scans in this process
    shopify, tenant = dup_shop(session, secret_key)
    yield {"shopify": shopify, "tenant": tenant}
    shopify.stop()


def stored(db_url: str, tenant_id: int) -> ShopifyDuplicateScan | None:
    with session_scope(db_url) as session:
        row = session.get(ShopifyDuplicateScan, tenant_id)
        if row is not None:
            session.expunge(row)
        return row


def test_a_scan_is_stored_and_a_merge_takes_the_merged_customer_out(shop, session: Session, db_url: str) -> None:  # type: ignore[no-untyped-def]
    shopify, tenant = shop["shopify"], shop["tenant"]
    ann_old = shopify.add_customer("Ann", None, "Ann@example.com")
    ann_new = shopify.add_customer("Ann", "Lee", "ann@example.com")
    bo_a = shopify.add_customer("Bo", None, "bo@example.com")
    bo_b = shopify.add_customer("Bo", None, "BO@example.com", merge_blockers=["GIFT_CARDS"])
    duplicate_scan.scan(session, tenant)
    session.commit()
    row = stored(db_url, tenant.id)
    assert row is not None and row.status == "done" and row.scanned_at is not None and row.error is None
    assert [(g["customers"], g["blockers"], g["mergeable"]) for g in row.groups] == [
        ([ann_old, ann_new], [], True), ([bo_a, bo_b], ["GIFT_CARDS"], False)]

    result = duplicate_scan.merge(session, tenant, ann_new, ann_old)
    session.commit()
    assert result.status == "COMPLETED"
    row = stored(db_url, tenant.id)
    assert row is not None and [g["customers"] for g in row.groups] == [[bo_a, bo_b]]  # not offered again


def test_the_consoles_request_without_redis_scans_here(shop, db_url: str) -> None:  # type: ignore[no-untyped-def]
    shopify, tenant = shop["shopify"], shop["tenant"]
    one = shopify.add_customer("Cy", None, None, "+1 613 555 0111")
    two = shopify.add_customer("Cy", None, None, "(613) 555-0111")
    duplicate_scan.request_scan("dup")
    row = stored(db_url, tenant.id)
    assert row is not None and row.status == "done"
    assert [(g["customers"], g["reason"]) for g in row.groups] == [([one, two], "phone")]


def test_a_failed_scan_keeps_its_reason_and_the_groups_found_before(shop, session: Session, db_url: str) -> None:  # type: ignore[no-untyped-def]
    shopify, tenant = shop["shopify"], shop["tenant"]
    shopify.add_customer("Di", None, "di@example.com")
    shopify.add_customer("Di", None, "DI@example.com")
    duplicate_scan.scan(session, tenant)
    session.commit()
    shopify.access_token = "shpat_revoked"  # the merchant uninstalled the app: Shopify answers 401
    duplicate_scan.scan_duplicates(tenant.id)
    row = stored(db_url, tenant.id)
    assert row is not None and row.status == "failed" and "AuthenticationError" in str(row.error)
    assert len(row.groups) == 1  # the last scan's groups stay listed, with the failure beside them


def test_a_request_the_broker_refuses_is_not_left_queued(shop, db_url: str, activate_env) -> None:  # type: ignore[no-untyped-def]
    activate_env(POSSYNC_DATABASE_URL=db_url, POSSYNC_REDIS_URL="redis://127.0.0.1:1/0")  # nothing listens
    with pytest.raises(Exception):  # noqa: B017 - kombu's or redis's own connection error
        duplicate_scan.request_scan("dup")
    row = stored(db_url, shop["tenant"].id)
    assert row is not None and row.status == "failed" and str(row.error).startswith("not queued: ")
