"""The Heartland adapter against its fake over real HTTP: reads, creates, updates and their request counts."""

from __future__ import annotations

import json
from datetime import date
from urllib.parse import parse_qs

import pytest

from possync.adapters.errors import (
    BadResponseError,
    ErrorAction,
    FatalError,
    MissingFieldsError,
    PartialCreateError,
    RetryableError,
)
from possync.adapters.heartland import CAPABILITIES, HeartlandAdapter
from possync.adapters.heartland.client import REAL_HOST, host_for
from possync.adapters.heartland.fake import FakeServer
from possync.models.customer import Address, Consent, ConsentState
from possync.models.tables import PosStatus
from tests.adapters.heartland.conftest import AdapterFactory
from tests.adapters.heartland.helpers import AUSTIN, DALLAS, jane


def query(fake: FakeServer, index: int = -1) -> dict[str, list[str]]:
    return parse_qs(fake.vendor_requests()[index].query)


def seed_jane(fake: FakeServer, **extra: object) -> int:
    record = {
        "first_name": "Jane",
        "last_name": "Doe",
        "email": "jane@example.com",
        "phone_number": "(512) 555-0100",
        "custom": {"email_opt_in": "Yes", "dob": "1990-05-01", "shopify_tags": "Shopify, acme", "loyalty": "gold"},
        "address": {"line_1": "1 Main St", "city": "Austin", "state": "TX", "postal_code": "78701", "country": "US"},
    }
    return fake.seed([record | extra])[0]


# --- configuration ----------------------------------------------------------------------------------


def test_base_url_replaces_the_host_only_and_null_means_the_tenant_host() -> None:
    assert host_for({"base_url": None, "subdomain": "acme"}) == REAL_HOST.format(subdomain="acme")
    assert host_for({"base_url": "http://127.0.0.1:9999/", "subdomain": "acme"}) == "http://127.0.0.1:9999"
    with pytest.raises(FatalError, match="subdomain"):
        host_for({"base_url": None, "subdomain": None})


def test_paths_keep_the_vendors_api_prefix(adapter: HeartlandAdapter, fake: FakeServer) -> None:
    assert adapter.client.base_url == fake.url + "/api"
    adapter.get_customer("1")
    assert fake.vendor_requests()[0].path == "/api/customers/1"


def test_unknown_custom_field_name_is_refused_at_build_time(make: AdapterFactory) -> None:
    with pytest.raises(FatalError, match="email_optin"):
        make(custom_fields={"email_optin": "x"})


def test_capabilities_follow_the_custom_field_mapping(make: AdapterFactory) -> None:
    plain = make(custom_fields={})
    assert plain.capabilities == CAPABILITIES
    assert (plain.kind, plain.capabilities.phone_slot, plain.capabilities.has_tags) == ("heartland", "mobile", False)
    assert plain.capabilities.sms_consent is False and plain.capabilities.tags_field is None
    mapped = make(custom_fields={"tags": "shopify_tags", "sms_opt_in": "sms"})
    assert mapped.capabilities.tags_field == "custom:shopify_tags"
    assert mapped.capabilities.sms_consent is True
    assert mapped.capabilities.shipping_address and mapped.capabilities.can_unarchive


# --- reads ------------------------------------------------------------------------------------------


def test_get_customer_is_one_request_and_maps_every_field(adapter: HeartlandAdapter, fake: FakeServer) -> None:
    cid = seed_jane(fake)
    found = adapter.get_customer(str(cid))
    assert found is not None and found.pos_id == str(cid) and found.status is PosStatus.ACTIVE
    c = found.customer
    assert (c.first_name, c.last_name, c.email, c.phone) == ("Jane", "Doe", "jane@example.com", "(512) 555-0100")
    assert c.birthday == date(1990, 5, 1)
    assert c.billing_address == AUSTIN and c.shipping_address == AUSTIN
    assert c.email_consent == Consent(ConsentState.SUBSCRIBED, found.updated_at)
    assert c.sms_consent is None
    assert c.tags == ("Shopify", "acme")
    assert fake.count_requests() == 1 and adapter.stats.requests == 1
    assert query(fake)["_include[]"] == ["billing_address", "shipping_address"]


def test_get_customer_returns_none_on_404_and_skips_ids_that_cannot_exist(
    adapter: HeartlandAdapter, fake: FakeServer
) -> None:
    assert adapter.get_customer("424242") is None
    assert fake.count_requests() == 1 and adapter.stats.by_status == {404: 1}
    assert adapter.get_customer("not-an-id") is None
    assert fake.count_requests() == 1


def test_active_flag_and_deleted_at_give_the_status(adapter: HeartlandAdapter, fake: FakeServer) -> None:
    archived, deleted, back = (seed_jane(fake) for _ in range(3))
    fake.archive(archived)
    fake.delete(deleted)
    fake.archive(back)
    fake.unarchive(back)
    assert adapter.get_customer(str(archived)).status is PosStatus.ARCHIVED  # type: ignore[union-attr]
    assert adapter.get_customer(str(deleted)).status is PosStatus.DELETED  # type: ignore[union-attr]
    assert adapter.get_customer(str(back)).status is PosStatus.ACTIVE  # type: ignore[union-attr]


def test_unmapped_custom_fields_are_not_read(make: AdapterFactory, fake: FakeServer) -> None:
    cid = seed_jane(fake)
    c = make(custom_fields={}).get_customer(str(cid)).customer  # type: ignore[union-attr]
    assert (c.birthday, c.email_consent, c.tags) == (None, None, ())


def test_search_by_email_sends_json_filter_in_one_request(adapter: HeartlandAdapter, fake: FakeServer) -> None:
    first = seed_jane(fake)
    second = seed_jane(fake)
    fake.archive(second)
    seed_jane(fake, email="other@example.com")
    found = adapter.search_by_email(" jane@example.com ")
    assert [p.pos_id for p in found] == [str(first), str(second)]  # oldest first, archived included
    assert found[1].status is PosStatus.ARCHIVED
    assert fake.count_requests() == 1
    q = query(fake)
    assert json.loads(q["_filter"][0]) == {"email": "jane@example.com"}
    assert q["sort[]"] == ["id"] and q["page"] == ["1"]
    assert "%7B%22email%22" in fake.vendor_requests()[0].query  # URL-encoded JSON on the wire


def test_search_by_email_also_asks_for_the_lowercased_spelling(adapter: HeartlandAdapter, fake: FakeServer) -> None:
    cid = seed_jane(fake)
    found = adapter.search_by_email("Jane@Example.COM")
    assert [p.pos_id for p in found] == [str(cid)]
    assert json.loads(query(fake)["_filter"][0]) == {"email": {"$in": ["Jane@Example.COM", "jane@example.com"]}}
    assert fake.count_requests() == 1


def test_search_by_blank_email_sends_nothing(adapter: HeartlandAdapter, fake: FakeServer) -> None:
    assert adapter.search_by_email("  ") == []
    assert adapter.search_by_phone("n/a") == []
    assert fake.count_requests() == 0


def test_search_by_phone_finds_a_differently_formatted_number(adapter: HeartlandAdapter, fake: FakeServer) -> None:
    cid = seed_jane(fake)  # stored as "(512) 555-0100"
    found = adapter.search_by_phone("+1 512-555-0100")
    assert [p.pos_id for p in found] == [str(cid)]
    assert fake.count_requests() == 1
    flt = json.loads(query(fake)["_filter"][0])
    assert "(512) 555-0100" in flt["phone_number"]["$in"]


# --- create -----------------------------------------------------------------------------------------


def test_create_with_an_address_is_three_requests_and_links_the_address(
    adapter: HeartlandAdapter, fake: FakeServer
) -> None:
    created = adapter.create_customer(jane(birthday=date(1990, 5, 1)))
    assert [(r.method, r.path) for r in fake.vendor_requests()] == [
        ("POST", "/api/customers"),
        ("POST", f"/api/customers/{created.pos_id}/addresses"),
        ("PUT", f"/api/customers/{created.pos_id}"),
    ]
    stored = fake.record(created.pos_id)
    [address] = stored["addresses"]
    assert stored["address_id"] == stored["billing_address_id"] == stored["shipping_address_id"] == address["id"]
    assert address["phone"] == "5125550100" and address["line_1"] == "1 Main St" and address["state"] == "TX"
    assert stored["email"] == "jane@example.com" and stored["phone_number"] == "5125550100"
    assert stored["custom"] == {"email_opt_in": True, "dob": "1990-05-01", "shopify_tags": "Shopify, acme"}
    assert created.status is PosStatus.ACTIVE
    read_back = adapter.get_customer(created.pos_id)
    assert read_back is not None
    expected = read_back.customer.replace(email_consent=Consent(ConsentState.SUBSCRIBED))
    assert created.customer == expected


def test_create_takes_the_id_from_location_only(adapter: HeartlandAdapter, fake: FakeServer) -> None:
    fake.seed([{"email": f"x{i}@example.com"} for i in range(4)])
    created = adapter.create_customer(jane(shipping_address=None))
    assert created.pos_id == "5"
    assert [r.path for r in fake.vendor_requests() if r.method == "POST"] == ["/api/customers",
                                                                              "/api/customers/5/addresses"]
    assert fake.count_requests("GET") == 0  # the Location header names it: no follow-up read


def test_create_without_location_header_is_a_bad_response(adapter: HeartlandAdapter, fake: FakeServer) -> None:
    fake.inject(201, body={"id": 77})
    with pytest.raises(BadResponseError, match="Location") as info:
        adapter.create_customer(jane(shipping_address=None))
    assert info.value.vendor == "heartland" and info.value.endpoint == "POST /api/customers"


def test_create_with_distinct_shipping_address_makes_two_addresses(
    adapter: HeartlandAdapter, fake: FakeServer
) -> None:
    created = adapter.create_customer(jane(shipping_address=DALLAS))
    assert fake.count_requests() == 4
    stored = fake.record(created.pos_id)
    by_id = {a["id"]: a for a in stored["addresses"]}
    assert by_id[stored["billing_address_id"]]["city"] == "Austin"
    assert by_id[stored["shipping_address_id"]]["city"] == "Dallas"
    assert stored["address_id"] == stored["billing_address_id"]
    assert adapter.get_customer(created.pos_id).customer.shipping_address == DALLAS  # type: ignore[union-attr]


def test_create_refuses_missing_email_and_incomplete_address_before_any_request(
    adapter: HeartlandAdapter, fake: FakeServer
) -> None:
    partial = Address(address1="1 Main St", city="Austin", country_code="US")
    with pytest.raises(MissingFieldsError) as info:
        adapter.create_customer(jane(email=None, billing_address=partial, shipping_address=Address(city="Dallas")))
    message = str(info.value)
    assert "missing: email, billing address state/province, billing address postal code, shipping address " \
           "street address" in message
    assert info.value.error_class == "missing_fields"  # what the replay rule restarts from the Shopify data
    assert fake.count_requests() == 0 and fake.records == []


def test_an_address_failure_after_the_customer_exists_names_the_partial_customer(
    adapter: HeartlandAdapter, fake: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*args: object) -> None:
        raise RetryableError("address endpoint down", vendor="heartland")

    monkeypatch.setattr(adapter, "_post_address", refuse)
    with pytest.raises(PartialCreateError) as info:
        adapter.create_customer(jane())
    [record] = fake.records
    assert info.value.pos_id == str(record["id"])
    assert isinstance(info.value.cause, RetryableError) and info.value.action is ErrorAction.RETRY


def test_vendor_422_on_create_names_the_field(adapter: HeartlandAdapter, fake: FakeServer) -> None:
    with pytest.raises(FatalError) as info:
        adapter.create_customer(jane(email="jane@invalid"))
    assert info.value.http_status == 422
    assert "email (is invalid)" in str(info.value)
    assert "jane@invalid" not in str(info.value)
    assert fake.count_requests() == 1 and fake.records == []


def test_unmapped_fields_are_not_written(make: AdapterFactory, fake: FakeServer) -> None:
    created = make(custom_fields={}).create_customer(jane(birthday=date(1990, 5, 1)))
    assert fake.record(created.pos_id)["custom"] == {}
    assert created.customer.birthday is None and created.customer.tags == ()


def test_sms_consent_is_written_only_through_a_mapped_field(make: AdapterFactory, fake: FakeServer) -> None:
    customer = jane(sms_consent=Consent(ConsentState.PENDING))
    created = make(custom_fields={"sms_opt_in": "sms_ok"}).create_customer(customer)
    assert fake.record(created.pos_id)["custom"] == {"sms_ok": False}  # pending is not a yes
    other = make(custom_fields={}).create_customer(customer.replace(email="j2@example.com"))
    assert fake.record(other.pos_id)["custom"] == {}


# --- update -----------------------------------------------------------------------------------------


def _without(record: dict, *keys: str) -> dict:
    return {k: v for k, v in record.items() if k not in keys}


def test_update_writes_only_the_given_field(adapter: HeartlandAdapter, fake: FakeServer) -> None:
    cid = seed_jane(fake)
    before = fake.record(cid)
    updated = adapter.update_customer(str(cid), {"first_name": "Janet"})
    after = fake.record(cid)
    assert after["first_name"] == "Janet"
    assert _without(after, "first_name", "updated_at") == _without(before, "first_name", "updated_at")
    assert [r.method for r in fake.vendor_requests()] == ["GET", "PUT"]
    assert updated.customer.first_name == "Janet"
    assert updated == adapter.get_customer(str(cid))


def test_update_consent_keeps_the_merchants_other_custom_fields(adapter: HeartlandAdapter, fake: FakeServer) -> None:
    cid = seed_jane(fake)
    updated = adapter.update_customer(str(cid), {"email_consent": Consent(ConsentState.UNSUBSCRIBED)})
    custom = fake.record(cid)["custom"]
    assert custom == {"email_opt_in": False, "dob": "1990-05-01", "shopify_tags": "Shopify, acme", "loyalty": "gold"}
    assert updated.customer.email_consent is not None
    assert updated.customer.email_consent.state is ConsentState.UNSUBSCRIBED


def test_update_as_read_writes_from_the_reading_without_a_get(adapter: HeartlandAdapter, fake: FakeServer) -> None:
    cid = seed_jane(fake)
    read = adapter.get_customer(str(cid))
    assert read is not None and read.vendor_state is not None
    fake.reset()
    updated = adapter.update_customer_as_read(read, {"phone": "5125550199",
                                                     "email_consent": Consent(ConsentState.UNSUBSCRIBED)})
    stored = fake.record(cid)
    assert [r.method for r in fake.vendor_requests()] == ["PUT", "PUT"]  # the main address, then the customer
    assert stored["phone_number"] == "5125550199" and stored["addresses"][0]["phone"] == "5125550199"
    assert stored["addresses"][0]["line_1"] == "1 Main St"
    assert stored["custom"]["loyalty"] == "gold" and stored["custom"]["email_opt_in"] is False
    assert updated == adapter.get_customer(str(cid))


def test_only_a_reading_by_id_is_kept_for_an_update(adapter: HeartlandAdapter, fake: FakeServer) -> None:
    seed_jane(fake)
    [found] = adapter.search_by_email("jane@example.com")
    assert found.vendor_state is None  # a search result may lack the embedded addresses
    fake.reset()
    adapter.update_customer_as_read(found, {"first_name": "Janet"})
    assert [r.method for r in fake.vendor_requests()] == ["GET", "PUT"]


def test_update_tags_and_birthday_go_to_their_custom_fields(adapter: HeartlandAdapter, fake: FakeServer) -> None:
    cid = seed_jane(fake)
    adapter.update_customer(str(cid), {"tags": ("Shopify", "acme", "vip"), "birthday": date(1991, 2, 3)})
    custom = fake.record(cid)["custom"]
    assert custom["shopify_tags"] == "Shopify, acme, vip" and custom["dob"] == "1991-02-03"


def test_update_phone_moves_customer_and_main_address_phone(adapter: HeartlandAdapter, fake: FakeServer) -> None:
    cid = seed_jane(fake)
    updated = adapter.update_customer(str(cid), {"phone": "5125550199"})
    stored = fake.record(cid)
    assert stored["phone_number"] == "5125550199"
    assert stored["addresses"][0]["phone"] == "5125550199"
    assert stored["addresses"][0]["line_1"] == "1 Main St"
    assert updated.customer.phone == "5125550199"


def test_update_billing_shared_with_shipping_creates_a_new_billing_address(
    adapter: HeartlandAdapter, fake: FakeServer
) -> None:
    cid = seed_jane(fake)
    old = fake.record(cid)["address_id"]
    updated = adapter.update_customer(str(cid), {"billing_address": DALLAS})
    stored = fake.record(cid)
    assert stored["shipping_address_id"] == old and fake.address(cid, old)["city"] == "Austin"
    assert stored["billing_address_id"] != old and stored["address_id"] == stored["billing_address_id"]
    assert fake.address(cid, stored["billing_address_id"])["phone"] == "(512) 555-0100"
    assert (updated.customer.billing_address, updated.customer.shipping_address) == (DALLAS, AUSTIN)
    assert updated.customer == adapter.get_customer(str(cid)).customer  # type: ignore[union-attr]


def test_update_shipping_shared_with_billing_leaves_the_main_address(
    adapter: HeartlandAdapter, fake: FakeServer
) -> None:
    cid = seed_jane(fake)
    old = fake.record(cid)["address_id"]
    updated = adapter.update_customer(str(cid), {"shipping_address": DALLAS})
    stored = fake.record(cid)
    assert stored["address_id"] == stored["billing_address_id"] == old
    assert stored["shipping_address_id"] != old
    assert (updated.customer.billing_address, updated.customer.shipping_address) == (AUSTIN, DALLAS)
    assert updated.customer == adapter.get_customer(str(cid)).customer  # type: ignore[union-attr]


def test_update_both_addresses_to_one_value_edits_the_shared_record(
    adapter: HeartlandAdapter, fake: FakeServer
) -> None:
    cid = seed_jane(fake)
    old = fake.record(cid)["address_id"]
    adapter.update_customer(str(cid), {"billing_address": DALLAS, "shipping_address": DALLAS})
    stored = fake.record(cid)
    assert len(stored["addresses"]) == 1 and fake.address(cid, old)["city"] == "Dallas"
    assert ("PUT", f"/api/customers/{cid}/addresses/{old}") in [(r.method, r.path) for r in fake.vendor_requests()]


def test_update_adds_an_address_to_a_customer_without_one(adapter: HeartlandAdapter, fake: FakeServer) -> None:
    cid = fake.seed([{"first_name": "Al", "email": "al@example.com", "phone": "5125550111"}])[0]
    updated = adapter.update_customer(str(cid), {"billing_address": AUSTIN})
    stored = fake.record(cid)
    [address] = stored["addresses"]
    assert stored["address_id"] == stored["billing_address_id"] == address["id"]
    assert address["phone"] == "5125550111"
    assert updated.customer.billing_address == AUSTIN


def test_update_refusals(adapter: HeartlandAdapter, fake: FakeServer) -> None:
    cid = seed_jane(fake)
    with pytest.raises(FatalError, match=r"billing_address\.zip"):
        adapter.update_customer(str(cid), {"billing_address": Address(address1="x", city="y", country_code="US",
                                                                        province_code="TX")})
    assert fake.count_requests() == 0
    with pytest.raises(ValueError, match="nickname"):
        adapter.update_customer(str(cid), {"nickname": "JD"})
    with pytest.raises(FatalError) as info:
        adapter.update_customer("999", {"first_name": "X"})
    assert info.value.http_status == 404


def test_update_with_invalid_email_is_a_named_422(adapter: HeartlandAdapter, fake: FakeServer) -> None:
    cid = seed_jane(fake)
    with pytest.raises(FatalError, match=r"email \(is invalid\)"):
        adapter.update_customer(str(cid), {"email": "broken"})
    assert fake.record(cid)["email"] == "jane@example.com"


def test_update_of_unmapped_fields_writes_nothing(make: AdapterFactory, fake: FakeServer) -> None:
    cid = seed_jane(fake)
    before = fake.record(cid)
    make(custom_fields={}).update_customer(str(cid), {"tags": ("x",), "sms_consent": Consent(ConsentState.SUBSCRIBED)})
    assert fake.record(cid) == before
    assert [r.method for r in fake.vendor_requests()] == ["GET"]
