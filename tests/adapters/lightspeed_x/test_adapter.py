"""The X-Series adapter against its fake over real HTTP: each method, each quirk, request counts."""

from __future__ import annotations

from datetime import date

import pytest

import possync.adapters.lightspeed_x.adapter as adapter_module
from possync.adapters.base import PosAdapter
from possync.adapters.errors import FatalError
from possync.adapters.lightspeed_x import CAPABILITIES, LightspeedXAdapter, make_adapter
from possync.adapters.lightspeed_x.fake import FakeServer
from possync.adapters.lightspeed_x.mapping import TAGS_FIELD
from possync.models.customer import Address, Consent, ConsentState, Customer
from possync.models.tables import PosStatus
from possync.models.tenants import TenantSettings

UNKNOWN_ID = "0af7b240-ab83-11e7-eddc-4023c64c85e5"


def test_interface_and_capabilities(adapter: LightspeedXAdapter) -> None:
    assert isinstance(adapter, PosAdapter)
    assert adapter.kind == "lightspeed-x"
    assert adapter.capabilities is CAPABILITIES
    assert (CAPABILITIES.phone_slot, CAPABILITIES.has_tags, CAPABILITIES.sms_consent) == ("phone", False, True)
    assert CAPABILITIES.shipping_address and not CAPABILITIES.can_unarchive
    assert CAPABILITIES.tags_field == TAGS_FIELD
    assert adapter.stats is adapter.client.stats


# --- base URL -------------------------------------------------------------------------------------
def test_null_base_url_is_the_stores_real_host() -> None:
    adapter = make_adapter({"base_url": None, "domain_prefix": "AcmeStore"}, {"access_token": "t"}, TenantSettings())
    assert adapter.client.base_url == "https://acmestore.retail.lightspeed.app"


def test_base_url_replaces_the_host_only(fake: FakeServer, adapter: LightspeedXAdapter) -> None:
    assert adapter.client.base_url == fake.url
    adapter.get_customer(UNKNOWN_ID)
    assert fake.vendor_requests()[-1].path == f"/api/2.0/customers/{UNKNOWN_ID}"


@pytest.mark.parametrize("prefix", [None, "", "evil.com/x", "a b"], ids=["none", "empty", "host-injection", "space"])
def test_missing_or_bad_domain_prefix_is_refused(prefix: str | None) -> None:
    with pytest.raises(ValueError, match="domain_prefix"):
        make_adapter({"base_url": None, "domain_prefix": prefix}, {"access_token": "t"}, TenantSettings())


# --- get ------------------------------------------------------------------------------------------
def test_get_customer_one_request(fake: FakeServer, adapter: LightspeedXAdapter) -> None:
    [cid] = fake.seed([{"first_name": "Ann", "last_name": "Lee", "email": "ann@example.com", "phone": "613-555-1212",
                        "birthday": "1990-05-17", "email_opt_in": False, "sms_opt_in": True,
                        "tags": ["Shopify", "acme"]}])  # fmt: skip
    found = adapter.get_customer(cid)
    assert fake.count_requests() == 1 and adapter.stats.requests == 1 and adapter.stats.by_status == {200: 1}
    assert found is not None and found.pos_id == cid and found.status is PosStatus.ACTIVE
    c = found.customer
    assert (c.first_name, c.email, c.phone, c.birthday) == ("Ann", "ann@example.com", "613-555-1212", date(1990, 5, 17))
    assert c.email_consent.state is ConsentState.UNSUBSCRIBED and c.sms_consent.state is ConsentState.SUBSCRIBED
    assert c.email_consent.updated_at == found.updated_at
    assert c.tags == ("Shopify", "acme")


def test_get_unknown_is_none(fake: FakeServer, adapter: LightspeedXAdapter) -> None:
    assert adapter.get_customer(UNKNOWN_ID) is None
    assert fake.count_requests() == 1


def test_get_deleted_customer_says_deleted(fake: FakeServer, adapter: LightspeedXAdapter) -> None:
    [cid] = fake.seed([{"first_name": "Old", "last_name": "Timer"}])
    fake.delete(cid)
    found = adapter.get_customer(cid)
    assert found is not None and found.status is PosStatus.DELETED


def test_existing_record_with_null_names(fake: FakeServer, adapter: LightspeedXAdapter) -> None:
    [cid] = fake.seed([{"first_name": None, "last_name": None, "customer_code": "UNNAMED-669D"}])
    found = adapter.get_customer(cid)
    assert found is not None and found.customer.first_name is None and found.customer.last_name is None


def test_junk_ids_never_reach_a_url_path(fake: FakeServer, adapter: LightspeedXAdapter) -> None:
    assert adapter.get_customer("../search") is None
    with pytest.raises(FatalError, match="not an X-Series customer id"):
        adapter.update_customer("a/b", {"email": "x@example.com"})
    assert fake.count_requests() == 0


# --- search ---------------------------------------------------------------------------------------
def test_search_by_email_is_one_request_and_skips_deleted(fake: FakeServer, adapter: LightspeedXAdapter) -> None:
    live, _gone, _other = fake.seed([
        {"first_name": "A", "last_name": "One", "email": "ann@example.com"},
        {"first_name": "A", "last_name": "Two", "email": "ann@example.com", "deleted": True},
        {"first_name": "B", "last_name": "Three", "email": "bob@example.com"},
    ])  # fmt: skip
    found = adapter.search_by_email("  Ann@Example.COM ")
    assert [c.pos_id for c in found] == [live]
    assert fake.count_requests() == 1
    log = fake.vendor_requests()[0]
    assert log.path == "/api/2.0/search" and "type=customers" in log.query and "email=ann%40example.com" in log.query


def test_search_by_email_pages_by_offset(fake: FakeServer, adapter: LightspeedXAdapter, monkeypatch) -> None:
    monkeypatch.setattr(adapter_module, "SEARCH_PAGE_SIZE", 4)
    ids = fake.seed([{"first_name": f"N{i}", "last_name": "X", "email": "same@example.com"} for i in range(9)])
    found = adapter.search_by_email("same@example.com")
    assert sorted(c.pos_id for c in found) == sorted(ids)
    assert fake.count_requests() == 3
    assert [r.query.split("offset=")[1] for r in fake.vendor_requests()] == ["0", "4", "8"]


def test_search_by_phone_queries_phone_and_mobile(fake: FakeServer, adapter: LightspeedXAdapter) -> None:
    in_phone, in_mobile, in_both, _other = fake.seed([
        {"first_name": "P", "last_name": "1", "phone": "+1 613-555-1212"},
        {"first_name": "M", "last_name": "2", "mobile": "+1 613-555-1212"},
        {"first_name": "B", "last_name": "3", "phone": "+1 613-555-1212", "mobile": "+1 613-555-1212"},
        {"first_name": "O", "last_name": "4", "phone": "+1 613-555-9999"},
    ])  # fmt: skip
    found = adapter.search_by_phone("+1 613-555-1212")
    assert sorted(c.pos_id for c in found) == sorted([in_phone, in_mobile, in_both])
    assert fake.count_requests() == 2
    assert {r.query.split("&")[1].split("=")[0] for r in fake.vendor_requests()} == {"phone", "mobile"}


def test_search_by_phone_misses_other_formats_as_the_vendor_does(fake: FakeServer, adapter: LightspeedXAdapter) -> None:
    """Phones are free text and matched exactly; possync's own index covers the rest (SPEC rule 9)."""
    fake.seed([{"first_name": "P", "last_name": "1", "phone": "(613) 555-1212"}])
    assert adapter.search_by_phone("6135551212") == []
    assert adapter.search_by_phone("") == [] and adapter.search_by_email("not-an-email") == []


# --- create ---------------------------------------------------------------------------------------
def test_create_is_one_request_and_stores_the_fields(fake: FakeServer, adapter: LightspeedXAdapter) -> None:
    customer = Customer(
        first_name="Ann", last_name="Lee", email="ann@example.com", phone="+1 613 555 1212",
        birthday=date(1990, 5, 17),
        billing_address=Address(address1="1 Main St", city="Ottawa", province_code="ON", zip="K1A 0B1",
                                country_code="CA"),
        shipping_address=Address(address1="2 Dock Rd", city="Kingston", province_code="ON", country_code="CA"),
        email_consent=Consent(ConsentState.SUBSCRIBED), sms_consent=Consent(ConsentState.NOT_SUBSCRIBED),
        tags=("Shopify", "acmestore"),
    )  # fmt: skip
    created = adapter.create_customer(customer)
    assert fake.count_requests() == 1 and adapter.stats.by_status == {201: 1}
    stored = fake.record(created.pos_id)
    assert stored["phone"] == "+1 613 555 1212" and stored["mobile"] is None
    assert stored["physical_address_1"] == "1 Main St" and stored["postal_city"] == "Kingston"
    assert stored["do_not_email"] is False and stored["enable_promotional_sms"] is False
    assert stored[TAGS_FIELD] == "Shopify, acmestore"
    assert stored["customer_code"].startswith("Ann-")
    # a POS flag holds yes/no only: "not_subscribed" reads back as "unsubscribed"
    expected = customer.replace(sms_consent=Consent(ConsentState.UNSUBSCRIBED))
    assert created.customer.fingerprint() == expected.fingerprint()


def test_created_customers_get_unique_codes(fake: FakeServer, adapter: LightspeedXAdapter) -> None:
    made = [adapter.create_customer(Customer(first_name="Tony", last_name=str(i))) for i in range(25)]
    made.append(adapter.create_customer(Customer()))  # nameless: the vendor makes UNNAMED-xxxx
    codes = [fake.record(c.pos_id)["customer_code"] for c in made]
    assert len(set(codes)) == len(codes)
    assert codes[-1].startswith("UNNAMED-")


# --- update ---------------------------------------------------------------------------------------
def _seed_full(fake: FakeServer) -> str:
    [cid] = fake.seed([{
        "first_name": "Ann", "last_name": "Lee", "email": "ann@old.example", "phone": "111", "mobile": "222",
        "note": "likes blue", "company_name": "Lee Co", "custom_field_1": "vip", TAGS_FIELD: "Shopify",
        "date_of_birth": "1990-05-17", "physical_address_1": "1 Main", "physical_suburb": "Centretown",
        "postal_address_1": "PO Box 1", "do_not_email": False, "enable_promotional_sms": True,
    }])  # fmt: skip
    return cid


def _diff(before: dict, after: dict) -> set[str]:
    return {k for k in after if before.get(k) != after.get(k)} - {"updated_at", "version", "name"}


def test_update_writes_only_the_given_fields(fake: FakeServer, adapter: LightspeedXAdapter) -> None:
    cid = _seed_full(fake)
    before = fake.record(cid)
    result = adapter.update_customer(cid, {"email": "ann@new.example"})
    after = fake.record(cid)
    assert _diff(before, after) == {"email"}
    assert after["email"] == "ann@new.example" and after["version"] > before["version"]
    assert result.customer.email == "ann@new.example" and result.customer.phone == "111"
    assert fake.count_requests() == 1 and fake.vendor_requests()[0].method == "PUT"


def test_update_consents_tags_and_address(fake: FakeServer, adapter: LightspeedXAdapter) -> None:
    cid = _seed_full(fake)
    before = fake.record(cid)
    adapter.update_customer(cid, {
        "email_consent": Consent(ConsentState.UNSUBSCRIBED),
        "sms_consent": Consent(ConsentState.UNSUBSCRIBED),
        "tags": ("Shopify", "acmestore"),
        "billing_address": Address(address1="9 New Rd", city="Ottawa", country_code="CA"),
    })  # fmt: skip
    after = fake.record(cid)
    assert _diff(before, after) == {"do_not_email", "enable_promotional_sms", TAGS_FIELD, "physical_address_1",
                                    "physical_city", "physical_country_id"}  # fmt: skip
    assert after["do_not_email"] is True and after["enable_promotional_sms"] is False
    assert after[TAGS_FIELD] == "Shopify, acmestore"
    assert after["physical_suburb"] == "Centretown" and after["company_name"] == "Lee Co"  # not ours to touch


def test_update_names_and_birthday(fake: FakeServer, adapter: LightspeedXAdapter) -> None:
    cid = _seed_full(fake)
    before = fake.record(cid)
    adapter.update_customer(cid, {"first_name": "Anne", "birthday": date(1991, 1, 2)})
    after = fake.record(cid)
    assert _diff(before, after) == {"first_name", "date_of_birth"}
    assert after["name"] == "Anne Lee"


def test_update_with_nothing_to_write_makes_no_write(fake: FakeServer, adapter: LightspeedXAdapter) -> None:
    cid = _seed_full(fake)
    version = fake.record(cid)["version"]
    result = adapter.update_customer(cid, {"email_consent": None})
    assert result.pos_id == cid and fake.record(cid)["version"] == version
    assert fake.count_requests("PUT") == 0


def test_update_of_deleted_customer_fails(fake: FakeServer, adapter: LightspeedXAdapter) -> None:
    cid = _seed_full(fake)
    fake.delete(cid)
    with pytest.raises(FatalError) as info:
        adapter.update_customer(cid, {"email": "x@example.com"})
    assert info.value.http_status == 404


def test_update_rejects_unknown_fields(adapter: LightspeedXAdapter) -> None:
    with pytest.raises(ValueError):
        adapter.update_customer(UNKNOWN_ID, {"loyalty_balance": 5})


# --- change poll ----------------------------------------------------------------------------------
def test_poll_pages_by_version_and_includes_deleted(
    fake: FakeServer, adapter: LightspeedXAdapter, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(adapter_module, "PAGE_SIZE", 3)
    ids = fake.seed([{"first_name": f"C{i}", "last_name": "X"} for i in range(7)])
    fake.delete(ids[0])  # moves to the end of the version order

    pages = []
    cursor = None
    while True:
        page = adapter.changes_since(cursor)
        pages.append(page)
        cursor = page.next_cursor
        if not page.has_more:
            break
    assert [len(p.customers) for p in pages] == [3, 3, 1]
    seen = [c.pos_id for p in pages for c in p.customers]
    assert seen == [*ids[1:], ids[0]]
    assert pages[-1].customers[0].status is PosStatus.DELETED
    assert int(cursor) == fake.version
    queries = [r.query for r in fake.vendor_requests()]
    assert all("deleted=true" in q and "page_size=3" in q for q in queries)
    assert queries[0].startswith("after=0") and queries[1].startswith(f"after={pages[0].next_cursor}")


def test_idle_poll_is_one_request_and_keeps_the_cursor(fake: FakeServer, adapter: LightspeedXAdapter) -> None:
    fake.seed([{"first_name": "A", "last_name": "B"}])
    cursor = adapter.changes_since(None).next_cursor
    fake.reset()
    page = adapter.changes_since(cursor)
    assert page.customers == [] and page.next_cursor == cursor and not page.has_more
    assert fake.count_requests() == 1


def test_poll_sees_edits_and_deletes_after_the_cursor(fake: FakeServer, adapter: LightspeedXAdapter) -> None:
    a, b, _c = fake.seed([{"first_name": n, "last_name": "X"} for n in "ABC"])
    cursor = adapter.changes_since(None).next_cursor
    fake.edit(a, email="a@example.com")
    fake.delete(b)
    page = adapter.changes_since(cursor)
    assert [(c.pos_id, c.status) for c in page.customers] == [(a, PosStatus.ACTIVE), (b, PosStatus.DELETED)]
    assert page.customers[0].customer.email == "a@example.com"
    assert int(page.next_cursor) > int(cursor)


def test_empty_store_poll(adapter: LightspeedXAdapter) -> None:
    page = adapter.changes_since(None)
    assert page.customers == [] and page.next_cursor is None and not page.has_more


def test_bad_cursor_is_refused(adapter: LightspeedXAdapter) -> None:
    with pytest.raises(FatalError, match="cursor"):
        adapter.changes_since("2024-01-01T00:00:00")
