"""The matches page's Shopify duplicates (rule 51): the last search's groups with their blockers, Search again
handed to a worker, and a merge as `possync shopify duplicates --merge ID --into ID` does it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from possync.adapters.shopify.fake import FakeShopify
from possync.models.db import session_scope
from possync.models.tables import ConsoleAction, ShopifyDuplicateScan
from possync.models.tenants import TenantContext
from possync.tasks import duplicate_scan
from possync.worker.dispatcher import queue_length
from possync.worker.routing import POLL_QUEUE
from tests.entry.web.conftest import add_tenant
from tests.entry.web.console.conftest import auth, csrf_of
from tests.tasks.test_duplicate_scan import dup_shop, stored


def _page(console: FlaskClient) -> str:
    return console.get("/console/matches", headers=auth()).get_data(as_text=True)


def _post(console: FlaskClient, path: str, **data: str) -> str:
    token = csrf_of(_page(console))
    return console.post(path, headers=auth(), follow_redirects=True,
                        data={"csrf_token": token, **data}).get_data(as_text=True)


def _actions(db_url: str) -> list[tuple[str, str | None, dict]]:
    with session_scope(db_url) as session:
        rows = session.scalars(select(ConsoleAction).order_by(ConsoleAction.id))
        return [(a.action, a.customer, a.detail) for a in rows]


def test_the_last_search_is_listed_with_its_blockers_and_only_mergeable_groups_offer_a_merge(
        console: FlaskClient, db_url: str, secret_key: str, tenant_id: int) -> None:
    add_tenant(db_url, secret_key, shop="other.myshopify.com")
    with session_scope(db_url) as session:
        session.add(ShopifyDuplicateScan(tenant_id=tenant_id, status="done", scanned_at=datetime.now(UTC), groups=[
            {"customers": ["101", "102", "103"], "reason": "email", "blockers": [], "limits": [], "mergeable": True},
            {"customers": ["201", "202"], "reason": "phone", "blockers": ["GIFT_CARDS"],
             "limits": ["more than 250 merged tags"], "mergeable": False}]))
    html = _page(console)
    section = html[html.index('id="shopify-duplicates"'):]
    assert "/console/customers/acme/101" in section and "/console/customers/acme/202" in section
    assert "blocked: GIFT_CARDS, more than 250 merged tags" in section
    assert section.count('class="merge"') == 2  # 102 and 103 into 101; nothing for the blocked pair
    assert "Merge 102 into 101" in section and "Merge 103 into 101" in section and "into 201" not in section
    assert "not searched yet" in section  # the other tenant
    assert section.count('class="scan"') == 2


def test_search_again_goes_to_a_worker_and_is_recorded(console: FlaskClient, db_url: str, tenant_id: int) -> None:
    page = _post(console, "/console/matches/shopify-duplicates/acme/scan")
    assert "search of acme&#39;s Shopify customers started" in page and "searching (queued" in page
    scan = stored(db_url, tenant_id)
    assert scan is not None and scan.status == "queued"
    assert queue_length(POLL_QUEUE) == 1  # the message, for a worker (none reads this test's Redis)
    assert [a[0] for a in _actions(db_url)] == ["duplicate_scan"]
    assert console.post("/console/matches/shopify-duplicates/nope/scan", headers=auth(),
                        data={"csrf_token": csrf_of(_page(console))}).status_code == 404


@pytest.fixture
def shop(session: Session, secret_key: str) -> Iterator[tuple[FakeShopify, TenantContext]]:
    shopify, tenant = dup_shop(session, secret_key)
    yield shopify, tenant
    shopify.stop()


def test_merge_is_the_clis_merge_and_leaves_the_list(console: FlaskClient, db_url: str, secret_key: str,  # type: ignore[no-untyped-def]
                                                     shop) -> None:
    shopify, tenant = shop
    tenant_id = tenant.id
    old = shopify.add_customer("Ann", None, "Ann@example.com", email_consent="NOT_SUBSCRIBED")
    new = shopify.add_customer("Ann", "Lee", "ann@example.com", email_consent="SUBSCRIBED")
    gift_a = shopify.add_customer("Bo", None, "bo@example.com")
    gift_b = shopify.add_customer("Bo", None, "BO@example.com", merge_blockers=["GIFT_CARDS"])
    with session_scope(db_url) as session:
        duplicate_scan.scan(session, tenant)

    refused = _post(console, "/console/matches/shopify-duplicates/dup/merge", merge=gift_b, into=gift_a)
    assert f"no merge of {gift_b} into {gift_a}: Shopify refuses this merge: GIFT_CARDS" in refused
    assert gift_b in shopify.customers

    page = _post(console, "/console/matches/shopify-duplicates/dup/merge", merge=new, into=old)
    assert f"merged Shopify customer {new} into {old}" in page and "completed" in page and "kept marketing" in page
    assert new not in shopify.customers and shopify.customers[old]["email_consent"]["state"] == "SUBSCRIBED"
    scan = stored(db_url, tenant_id)
    assert scan is not None and [g["customers"] for g in scan.groups] == [[gift_a, gift_b]]
    assert f"Merge {new} into" not in page
    assert [(a[0], a[1], a[2]["outcome"]) for a in _actions(db_url)] == [
        ("shopify_merge", gift_b, "refused"), ("shopify_merge", new, "completed")]
    assert "a merge needs two Shopify customer ids" in _post(
        console, "/console/matches/shopify-duplicates/dup/merge", merge="x", into=old)


def test_a_long_list_shows_its_first_groups_and_says_how_many_more(console: FlaskClient, db_url: str,
                                                                   tenant_id: int) -> None:
    groups = [{"customers": [str(2 * n), str(2 * n + 1)], "reason": "email", "blockers": [], "limits": [],
               "mergeable": True} for n in range(1, 23)]
    with session_scope(db_url) as session:
        session.add(ShopifyDuplicateScan(tenant_id=tenant_id, status="done", scanned_at=datetime.now(UTC),
                                         groups=groups))
    section = _page(console).split('id="shopify-duplicates"')[1]
    assert section.count('class="merge"') == 20 and "Merge 41 into 40" in section and "Merge 43 into" not in section
    assert "and 2 more groups" in section and "possync shopify duplicates --tenant acme" in section
