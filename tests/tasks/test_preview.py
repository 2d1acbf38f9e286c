"""The preview (SPEC rule 38) over the Shopify fake and an imported POS index, on real PostgreSQL.

Each action with the data merchants have (emails with stray blanks and capitals in the POS, phones as
typed at a till, shared emails, archived records, Heartland customers without an address), several
Shopify pages, and nothing written anywhere: not a row, not a vendor request beyond Shopify's pages.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from possync.models import links
from possync.models.tables import Base, Tenant
from possync.models.tenants import load_context
from possync.tasks import onboarding
from possync.tasks.clients import shopify_client_for
from possync.tasks.preview import ImportNotCompleteError, PreviewRow, preview, summarise
from tests.tasks.onboarding_support import ADDRESS, Shop


@pytest.fixture
def make(shops):  # type: ignore[no-untyped-def]
    """A tenant whose POS starts empty: each test seeds what it needs."""
    return lambda kind, settings=None: shops(kind, customers=0, settings=settings)


def run_preview(session: Session, shop: Shop) -> tuple[dict[str, PreviewRow], dict[str, int]]:
    tenant = load_context(session.get_one(Tenant, shop.tenant_id), onboarding.get_settings().require_secret_key())
    counts: dict[str, int] = {}
    rows = list(summarise(preview(session, tenant, shopify_client_for(tenant), sleep=lambda _s: None), counts))
    by_id = {row.shopify_customer_id: row for row in rows}
    assert len(by_id) == len(rows)  # each Shopify customer once
    return by_id, counts


def table_counts(session: Session) -> dict[str, int]:
    return {t.name: session.scalar(sa.select(sa.func.count()).select_from(t)) or 0
            for t in Base.metadata.sorted_tables}


def test_each_action_with_the_data_merchants_have(make, session: Session) -> None:  # type: ignore[no-untyped-def]
    shop = make("lightspeed-r")
    jane, till, older, newer, gone, other = shop.pos.seed([
        {"first_name": "Jane", "email": "  Jane.Doe@Example.COM "},  # stray blanks and capitals
        {"first_name": "Till", "phone": "(613) 230-1111"},  # as typed at the till
        {"first_name": "Sam", "email": "family@example.com"},
        {"first_name": "Sue", "email": "family@example.com"},  # one shared email, two records
        {"first_name": "Gone", "email": "gone@example.com", "archived": True},
        {"first_name": "Other", "email": "other@example.com", "phone": "(613) 230-3333"},
    ])
    onboarding.import_here(shop.name, on_page=lambda _r: None)
    ids = {
        "link_email": shop.shopify.add_customer("Jane", "Doe", "jane.doe@example.com", None),
        "link_phone": shop.shopify.add_customer("Till", "Buyer", None, "+1 613-230-1111"),
        "ambiguous": shop.shopify.add_customer("Sam", "Lee", "family@example.com", None),
        "archived": shop.shopify.add_customer("Gone", "Away", "gone@example.com", None),
        "create": shop.shopify.add_customer("New", "Person", "new.person@example.com", "+1 613-230-9999"),
        "linked": shop.shopify.add_customer("Linked", "Before", "linked@example.com", None),
        # Same phone as Other, another email: another person (rule 10, `conflicting_match: new`).
        "near": shop.shopify.add_customer("Stranger", "Typed", "stranger@example.com", "+1 613-230-3333"),
    }
    links.save_link(session, shop.tenant_id, ids["linked"], str(newer))
    session.commit()
    before = table_counts(session)
    requests_before = len(shop.pos.vendor_requests())

    rows, counts = run_preview(session, shop)

    assert rows[ids["link_email"]] == PreviewRow(ids["link_email"], "link", str(jane), [str(jane)], "email")
    assert rows[ids["link_phone"]] == PreviewRow(ids["link_phone"], "link", str(till), [str(till)], "phone")
    assert rows[ids["ambiguous"]] == PreviewRow(ids["ambiguous"], "ambiguous", str(older),
                                                [str(older), str(newer)], "email")  # oldest first
    assert rows[ids["archived"]].action == "create" and str(gone) not in rows[ids["archived"]].candidates
    assert rows[ids["create"]] == PreviewRow(ids["create"], "create")
    assert rows[ids["linked"]] == PreviewRow(ids["linked"], "link", str(newer), [str(newer)])
    assert rows[ids["near"]] == PreviewRow(ids["near"], "create", near_match=str(other))
    assert rows[ids["near"]].to_json()["candidates"] == [] and "near_match" not in rows[ids["near"]].to_json()
    assert counts == {"link": 3, "ambiguous": 1, "create": 3, "refused": 0}
    # Written nowhere: no row in any table, no POS request at all, only Shopify's listing.
    assert table_counts(session) == before
    assert len(shop.pos.vendor_requests()) == requests_before
    assert set(shop.shopify.operations) == {"ListCustomers"}


def test_heartland_refuses_what_it_cannot_create_and_says_what_is_missing(make, session: Session) -> None:  # type: ignore[no-untyped-def]
    shop = make("heartland")
    onboarding.import_here(shop.name, on_page=lambda _r: None)
    complete = shop.shopify.add_customer("Ann", "Lee", "ann@example.com", None, address=ADDRESS)
    no_address = shop.shopify.add_customer("Bo", "Berg", "bo@example.com", None)
    no_email = shop.shopify.add_customer("Cy", "Dunn", None, "+1 613-230-2222", address={**ADDRESS, "city": None})

    rows, counts = run_preview(session, shop)

    assert rows[complete].action == "create"
    assert rows[no_address].action == "refused" and rows[no_address].pos_customer_id is None
    assert "missing: billing address street address, billing address city" in (rows[no_address].reason or "")
    assert "missing: email, billing address city" in (rows[no_email].reason or "")
    assert counts == {"link": 0, "ambiguous": 0, "create": 1, "refused": 2}


def test_heartland_refuses_a_broken_military_address_naming_the_field(make, session: Session) -> None:  # type: ignore[no-untyped-def]
    shop = make("heartland")
    onboarding.import_here(shop.name, on_page=lambda _r: None)
    military = {"address1": "psc 3 box 123", "city": "apo", "provinceCode": "Armed Forces Europe", "zip": "09012",
                "countryCode": "DE"}
    good = shop.shopify.add_customer("Di", "Eze", "di@example.com", None, address=military)
    broken = shop.shopify.add_customer("Ed", "Fox", "ed@example.com", None, address={**military, "zip": "34001"})

    rows, counts = run_preview(session, shop)

    assert rows[good].action == "create"
    assert rows[broken].action == "refused" and "billing address ZIP" in (rows[broken].reason or "")
    assert counts == {"link": 0, "ambiguous": 0, "create": 1, "refused": 1}


@pytest.mark.parametrize("kind", ["lightspeed-x", "heartland"])
def test_every_shopify_customer_once_over_several_pages(make, session: Session, kind: str) -> None:  # type: ignore[no-untyped-def]
    shop = make(kind, {"customer_matching": "phone"})
    [pos_id] = shop.pos.seed([{"first_name": "Pat", "phone": "613-230-0042"}])
    onboarding.import_here(shop.name, on_page=lambda _r: None)
    ids = [shop.shopify.add_customer(f"C{i}", "Many", f"c{i}@example.com", f"+1 613-230-{i:04d}", address=ADDRESS)
           for i in range(260)]  # a page is 250 (249 with Heartland's address): two pages

    rows, counts = run_preview(session, shop)

    assert sorted(rows) == sorted(ids)
    assert rows[ids[42]].action == "link" and rows[ids[42]].pos_customer_id == str(pos_id)
    assert rows[ids[42]].matched_on == "phone"  # the tenant's customer_matching
    assert counts["link"] == 1 and counts["create"] == 259
    assert shop.shopify.operations == ["ListCustomers", "ListCustomers"]


def test_a_preview_before_the_import_is_complete_refuses_in_one_line(make, session: Session) -> None:  # type: ignore[no-untyped-def]
    shop = make("lightspeed-x")
    with pytest.raises(ImportNotCompleteError, match=r"the POS import of .* is pending .*possync tenant import"):
        run_preview(session, shop)
    assert shop.shopify.operations == []


def test_shopify_throttling_is_waited_out_not_failed(make, session: Session) -> None:  # type: ignore[no-untyped-def]
    from possync.adapters.shopify.fake import CostBucket

    shop = make("heartland")
    onboarding.import_here(shop.name, on_page=lambda _r: None)
    ids = [shop.shopify.add_customer(f"C{i}", "Many", f"c{i}@example.com", None, address=ADDRESS) for i in range(600)]
    now = [0.0]
    shop.shopify.bucket = CostBucket(1000, 50, clock=lambda: now[0])  # Shopify's classic bucket, on a test clock
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    tenant = load_context(session.get_one(Tenant, shop.tenant_id), onboarding.get_settings().require_secret_key())
    rows = list(preview(session, tenant, shopify_client_for(tenant), sleep=sleep))

    assert [r.shopify_customer_id for r in rows] == ids
    # Three pages of 998 points each: the second and third wait for the bucket to refill, once each.
    assert len(slept) == 2 and all(15 < s < 21 for s in slept), slept
