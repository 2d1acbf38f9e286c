"""The R-Series adapter against its fake over real HTTP: each method, the quirks, the request budget."""

from __future__ import annotations

import dataclasses
from datetime import date

import pytest

from possync.adapters.base import PosAdapter, PosCustomer
from possync.adapters.errors import FatalError
from possync.adapters.lightspeed_r import CAPABILITIES, LightspeedRAdapter, make_adapter
from possync.adapters.lightspeed_r.client import REAL_TOKEN_URL
from possync.adapters.lightspeed_r.fake import FakeServer
from possync.models.customer import Address, Consent, ConsentState, Customer
from possync.models.tables import PosStatus
from possync.models.tenants import TenantSettings

NEW = Customer(
    first_name="Jane",
    last_name="Doe",
    email="jane@example.com",
    phone="+1 (360) 555-2453",
    birthday=date(1990, 5, 1),
    billing_address=Address("1 Main St", None, "Austin", "TX", "78701", "US"),
    email_consent=Consent(ConsentState.SUBSCRIBED),
    sms_consent=Consent(ConsentState.UNSUBSCRIBED),
    tags=("Shopify", "acme"),
)


def requests_made(fake: FakeServer, method: str | None = None) -> int:
    return fake.count_requests(method)


# --- construction and identity --------------------------------------------------------------
def test_identity_and_capabilities(adapter: LightspeedRAdapter) -> None:
    assert isinstance(adapter, PosAdapter)
    assert adapter.kind == "lightspeed-r"
    assert adapter.capabilities == CAPABILITIES
    assert (CAPABILITIES.phone_slot, CAPABILITIES.has_tags, CAPABILITIES.sms_consent) == ("Home", True, True)
    assert (CAPABILITIES.shipping_address, CAPABILITIES.can_unarchive) == (False, True)
    assert adapter.stats is adapter.client.stats


def test_base_url_replaces_the_host_only() -> None:
    settings = TenantSettings()
    real = make_adapter({"base_url": None, "account_id": "777"}, {"access_token": "t"}, settings)
    assert real.client.base_url == "https://api.lightspeedapp.com/API/V3/Account/777"
    assert real.client.token_url == REAL_TOKEN_URL == "https://cloud.lightspeedapp.com/auth/oauth/token"
    sandbox = make_adapter({"base_url": "http://127.0.0.1:9/", "account_id": "777"}, {"access_token": "t"}, settings)
    assert sandbox.client.base_url == "http://127.0.0.1:9/API/V3/Account/777"
    assert sandbox.client.token_url == "http://127.0.0.1:9/auth/oauth/token"


@pytest.mark.parametrize(
    ("config", "secrets"),
    [({"account_id": None}, {"access_token": "t"}), ({"account_id": "12a"}, {"access_token": "t"}),
     ({"account_id": "1"}, {})],
    ids=["no-account", "bad-account", "no-token"],
)
def test_make_adapter_rejects_unusable_config(config: dict, secrets: dict) -> None:
    with pytest.raises(FatalError):
        make_adapter(config, secrets, TenantSettings())


# --- get -------------------------------------------------------------------------------------
def test_get_customer_is_one_request(fake: FakeServer, adapter: LightspeedRAdapter) -> None:
    (pos_id,) = fake.seed([{"first_name": "Jane", "last_name": "Doe", "email": "jane@example.com",
                            "phone": "(360) 555-2453", "birthday": "1990-05-01", "tags": ["vip"], "no_email": True}])
    fake.reset()
    found = adapter.get_customer(pos_id)
    assert requests_made(fake) == 1
    assert found is not None and found.pos_id == pos_id and found.status is PosStatus.ACTIVE
    c = found.customer
    assert (c.first_name, c.email, c.phone, c.birthday, c.tags) == (
        "Jane", "jane@example.com", "(360) 555-2453", date(1990, 5, 1), ("vip",))
    assert c.email_consent is not None and c.email_consent.state is ConsentState.UNSUBSCRIBED  # noEmail "true"
    assert c.sms_consent is not None and c.sms_consent.state is ConsentState.SUBSCRIBED  # noPhone "false"
    assert c.email_consent.updated_at == found.updated_at
    (logged,) = fake.vendor_requests()
    assert "load_relations=%5B%22Contact%22" in logged.query  # a JSON array, not load_relations=Contact


def test_get_customer_with_empty_collections(fake: FakeServer, adapter: LightspeedRAdapter) -> None:
    (pos_id,) = fake.seed([{"firstName": "Bare"}])
    raw = fake.record(pos_id)
    assert raw is not None and raw["Contact"]["Phones"] == "" and raw["Contact"]["Emails"] == "" and raw["Tags"] == ""
    found = adapter.get_customer(pos_id)
    assert found is not None
    assert (found.customer.email, found.customer.phone, found.customer.tags) == (None, None, ())


def test_get_customer_with_several_phones_and_emails(fake: FakeServer, adapter: LightspeedRAdapter) -> None:
    (pos_id,) = fake.seed([{"first_name": "Multi", "emails": ["first@example.com", "second@example.com"],
                            "phones": [{"number": "111", "useType": "Work"}, {"number": "222", "useType": "Mobile"}]}])
    raw = fake.record(pos_id)
    assert raw is not None and isinstance(raw["Contact"]["Phones"]["ContactPhone"], list)
    found = adapter.get_customer(pos_id)
    assert found is not None and found.customer.email == "first@example.com"
    assert found.customer.phone == "222"  # no Home phone: Mobile comes next


def test_archived_customer_is_found_with_its_status(fake: FakeServer, adapter: LightspeedRAdapter) -> None:
    (pos_id,) = fake.seed([{"first_name": "Old", "email": "old@example.com"}])
    fake.archive(pos_id)
    found = adapter.get_customer(pos_id)
    assert found is not None and found.status is PosStatus.ARCHIVED
    assert adapter.search_by_email("old@example.com") == []  # vendor default: archived hidden from searches


def test_unknown_customer_is_none(adapter: LightspeedRAdapter) -> None:
    assert adapter.get_customer("424242") is None


# --- search ----------------------------------------------------------------------------------
def test_search_by_email_is_one_request_and_case_insensitive(fake: FakeServer, adapter: LightspeedRAdapter) -> None:
    ids = fake.seed([{"first_name": "A", "email": "Jane@Example.com"}, {"first_name": "B", "email": "bob@example.com"}])
    fake.reset()
    found = adapter.search_by_email("  JANE@example.COM ")
    assert requests_made(fake) == 1
    assert [p.pos_id for p in found] == [ids[0]]


def test_search_by_email_one_and_many_matches(fake: FakeServer, adapter: LightspeedRAdapter) -> None:
    ids = fake.seed([{"first_name": n, "email": "shared@example.com"} for n in ("A", "B", "C")])
    assert sorted(p.pos_id for p in adapter.search_by_email("shared@example.com")) == sorted(ids)
    assert adapter.search_by_email("nobody@example.com") == []


def test_search_by_email_rechecks_like_wildcards(fake: FakeServer, adapter: LightspeedRAdapter) -> None:
    """`_` is a LIKE wildcard: the vendor's answer is re-checked on our side."""
    ids = fake.seed([{"email": "john_doe@example.com"}, {"email": "johnXdoe@example.com"}])
    assert [p.pos_id for p in adapter.search_by_email("john_doe@example.com")] == [ids[0]]


def test_search_by_email_with_special_characters(fake: FakeServer, adapter: LightspeedRAdapter) -> None:
    (pos_id,) = fake.seed([{"email": "a=b%c@example.com"}])
    assert [p.pos_id for p in adapter.search_by_email("a=b%c@example.com")] == [pos_id]


def test_search_by_email_with_a_backslash(fake: FakeServer, adapter: LightspeedRAdapter) -> None:
    """`\\` is MySQL's LIKE escape: sent as it is, `jane\\%doe` would look for `jane%doe` (and `jane\\doe` for
    `janedoe`, a decoy here), never the customer's own address."""
    _decoy, pos_id, other = fake.seed([{"email": "jane_doe@example.com"}, {"email": "jane\\%doe@example.com"},
                                      {"email": "jane\\doe@example.com"}])
    assert [p.pos_id for p in adapter.search_by_email("jane\\%doe@example.com")] == [pos_id]
    assert [p.pos_id for p in adapter.search_by_email("jane\\doe@example.com")] == [other]


def test_search_by_email_follows_pages(fake: FakeServer, adapter: LightspeedRAdapter) -> None:
    fake.seed([{"first_name": f"N{i}", "email": "crowd@example.com"} for i in range(130)])
    fake.reset()
    assert len(adapter.search_by_email("crowd@example.com")) == 130
    assert requests_made(fake) == 2
    assert "after=" in fake.vendor_requests()[1].query


def test_search_by_phone_finds_formatted_numbers(fake: FakeServer, adapter: LightspeedRAdapter) -> None:
    ids = fake.seed([
        {"first_name": "Typed", "phone": "(360) 555-2453"},
        {"first_name": "Dashed", "phones": [{"number": "1-360-555-2453", "useType": "Mobile"}]},
        {"first_name": "Other", "phone": "360-555-2454"},
        {"first_name": "Interleaved", "phone": "3 6 0 5 5 5 2 4 5 3 9"},  # a vendor match our re-check drops
    ])
    fake.reset()
    found = adapter.search_by_phone("+13605552453")
    assert requests_made(fake) == 1
    assert sorted(p.pos_id for p in found) == sorted(ids[:2])


def test_search_by_phone_other_region(fake: FakeServer, make) -> None:  # type: ignore[no-untyped-def]
    adapter = make(fake, default_phone_region="GB")
    (pos_id,) = fake.seed([{"first_name": "Londoner", "phone": "020 7946 0958"}])
    assert [p.pos_id for p in adapter.search_by_phone("+44 20 7946 0958")] == [pos_id]


def test_search_by_phone_without_digits(fake: FakeServer, adapter: LightspeedRAdapter) -> None:
    assert adapter.search_by_phone("n/a") == []
    assert requests_made(fake) == 0


# --- create ----------------------------------------------------------------------------------
def test_create_is_one_request_and_stores_everything(fake: FakeServer, adapter: LightspeedRAdapter) -> None:
    created = adapter.create_customer(NEW)
    assert requests_made(fake) == 1 and requests_made(fake, "POST") == 1
    assert created.pos_id.isdigit() and created.status is PosStatus.ACTIVE
    assert created.customer.fingerprint() == NEW.fingerprint()
    raw = fake.record(created.pos_id)
    assert raw is not None
    assert (raw["firstName"], raw["lastName"], raw["dob"]) == ("Jane", "Doe", "1990-05-01T00:00:00+00:00")
    assert raw["Contact"]["Phones"]["ContactPhone"]["useType"] == "Home"
    assert raw["Contact"]["Emails"]["ContactEmail"]["address"] == "jane@example.com"
    assert raw["Contact"]["noEmail"] == "false" and raw["Contact"]["noPhone"] == "true"
    assert raw["Contact"]["Addresses"]["ContactAddress"]["city"] == "Austin"
    assert raw["Tags"]["tag"] == ["Shopify", "acme"]


def test_create_minimal_customer(fake: FakeServer, adapter: LightspeedRAdapter) -> None:
    created = adapter.create_customer(Customer(email="only@example.com"))
    raw = fake.record(created.pos_id)
    assert raw is not None and raw["firstName"] == "" and "dob" not in raw and raw["Tags"] == ""
    assert created.customer.first_name is None and created.customer.email == "only@example.com"


# --- update ----------------------------------------------------------------------------------
def _stable(raw: dict) -> dict:
    """A stored record without the fields any write moves (timestamps)."""
    copy = {k: v for k, v in raw.items() if k != "timeStamp"}
    copy["Contact"] = {k: v for k, v in raw["Contact"].items() if k != "timeStamp"}
    return copy


@pytest.fixture
def rich(fake: FakeServer) -> str:
    (pos_id,) = fake.seed([{
        "firstName": "Jane", "lastName": "Doe", "company": "Acme", "dob": "1990-05-01",
        "Contact": {
            "noEmail": "false", "noPhone": "false",
            "Emails": {"ContactEmail": [{"address": "jane@example.com", "useType": "Primary"},
                                        {"address": "jd@work.example", "useType": "Secondary"}]},
            "Phones": {"ContactPhone": [{"number": "555-0100", "useType": "Home"},
                                        {"number": "555-0199", "useType": "Work"}]},
            "Addresses": {"ContactAddress": {"address1": "1 Main St", "city": "Austin", "state": "TX", "zip": "78701",
                                             "countryCode": "US"}},
        },
        "Tags": {"tag": ["vip", "Shopify"]},
    }])
    fake.reset()
    return pos_id


def test_update_name_writes_only_the_name(fake: FakeServer, adapter: LightspeedRAdapter, rich: str) -> None:
    before = fake.record(rich)
    updated = adapter.update_customer(rich, {"first_name": "Janet"})
    after = fake.record(rich)
    assert before is not None and after is not None
    assert _stable(after) == {**_stable(before), "firstName": "Janet"}
    assert requests_made(fake) == 1 and requests_made(fake, "PUT") == 1
    assert updated.customer.first_name == "Janet" and updated.customer.last_name == "Doe"


def assert_home_phone_replaced_in_place(before: dict | None, after: dict | None, number: str) -> None:
    """The Home phone took `number` under its own contactPhoneID; the Work phone is untouched."""
    assert before is not None and after is not None
    phones_before = {p["useType"]: p for p in before["Contact"]["Phones"]["ContactPhone"]}
    phones_after = {p["useType"]: p for p in after["Contact"]["Phones"]["ContactPhone"]}
    assert phones_after["Home"] == {**phones_before["Home"], "number": number}
    assert phones_after["Work"] == phones_before["Work"]


def test_update_phone_keeps_other_phones_and_ids(fake: FakeServer, adapter: LightspeedRAdapter, rich: str) -> None:
    before = fake.record(rich)
    updated = adapter.update_customer(rich, {"phone": "(613) 555-1212"})
    after = fake.record(rich)
    assert_home_phone_replaced_in_place(before, after, "(613) 555-1212")
    assert after["Contact"]["Emails"] == before["Contact"]["Emails"]
    assert after["firstName"] == before["firstName"] and after["Tags"] == before["Tags"]
    assert updated.customer.phone == "(613) 555-1212"
    assert requests_made(fake, "GET") == 1 and requests_made(fake, "PUT") == 1  # the collection is resent


def read_then_forget_requests(fake: FakeServer, adapter: LightspeedRAdapter, pos_id: str) -> PosCustomer:
    """The reading a caller holds; the fake's log then counts only what the update sends."""
    read = adapter.get_customer(pos_id)
    assert read is not None
    fake.reset()
    return read


def test_update_as_read_resends_the_readings_collections_without_a_get(
    fake: FakeServer, adapter: LightspeedRAdapter, rich: str
) -> None:
    before = fake.record(rich)
    read = read_then_forget_requests(fake, adapter, rich)
    assert read.vendor_state is not None
    updated = adapter.update_customer_as_read(read, {"phone": "(613) 555-1212", "email": "new@example.com"})
    after = fake.record(rich)
    assert_home_phone_replaced_in_place(before, after, "(613) 555-1212")
    emails = {e["useType"]: e["address"] for e in after["Contact"]["Emails"]["ContactEmail"]}
    assert emails == {"Primary": "new@example.com", "Secondary": "jd@work.example"}
    assert updated.customer.phone == "(613) 555-1212"
    assert requests_made(fake) == 1 and requests_made(fake, "PUT") == 1  # the reading stood in for the GET


def test_update_as_read_without_collections_reads_first(
    fake: FakeServer, adapter: LightspeedRAdapter, rich: str
) -> None:
    read = read_then_forget_requests(fake, adapter, rich)
    adapter.update_customer_as_read(dataclasses.replace(read, vendor_state=None), {"phone": "(613) 555-1212"})
    after = fake.record(rich)
    assert after is not None and len(after["Contact"]["Phones"]["ContactPhone"]) == 2  # the Work phone kept
    assert requests_made(fake, "GET") == 1 and requests_made(fake, "PUT") == 1


def test_update_as_read_with_nothing_to_write_sends_nothing(
    fake: FakeServer, adapter: LightspeedRAdapter, rich: str
) -> None:
    read = read_then_forget_requests(fake, adapter, rich)
    assert adapter.update_customer_as_read(read, {"shipping_address": Address(city="Elsewhere")}) is read
    assert requests_made(fake) == 0


def test_update_email_keeps_the_secondary(fake: FakeServer, adapter: LightspeedRAdapter, rich: str) -> None:
    adapter.update_customer(rich, {"email": "new@example.com"})
    after = fake.record(rich)
    assert after is not None
    emails = {e["useType"]: e["address"] for e in after["Contact"]["Emails"]["ContactEmail"]}
    assert emails == {"Primary": "new@example.com", "Secondary": "jd@work.example"}


def test_update_consent_inverts_to_opt_out(fake: FakeServer, adapter: LightspeedRAdapter, rich: str) -> None:
    updated = adapter.update_customer(rich, {
        "email_consent": Consent(ConsentState.UNSUBSCRIBED), "sms_consent": Consent(ConsentState.PENDING),
    })
    after = fake.record(rich)
    assert after is not None and after["Contact"]["noEmail"] == "true" and after["Contact"]["noPhone"] == "true"
    assert updated.customer.email_consent is not None
    assert updated.customer.email_consent.state is ConsentState.UNSUBSCRIBED
    adapter.update_customer(rich, {"email_consent": Consent(ConsentState.SUBSCRIBED)})
    after = fake.record(rich)
    assert after is not None and after["Contact"]["noEmail"] == "false" and after["Contact"]["noPhone"] == "true"
    assert requests_made(fake, "GET") == 0  # flags need no read first


def test_update_tags_birthday_and_address(fake: FakeServer, adapter: LightspeedRAdapter, rich: str) -> None:
    before = fake.record(rich)
    new_address = Address("9 Elm St", "Unit 4", "Dallas", "TX", "75001", "US")
    updated = adapter.update_customer(rich, {
        "tags": ("vip", "Shopify", "acme"), "birthday": date(1991, 6, 2), "billing_address": new_address,
    })
    after = fake.record(rich)
    assert before is not None and after is not None
    assert after["Tags"]["tag"] == ["vip", "Shopify", "acme"]
    assert after["dob"] == "1991-06-02T00:00:00+00:00"
    address = after["Contact"]["Addresses"]["ContactAddress"]
    assert address["address1"] == "9 Elm St" and address["city"] == "Dallas"
    assert address["contactAddressID"] == before["Contact"]["Addresses"]["ContactAddress"]["contactAddressID"]
    assert after["company"] == "Acme"
    assert updated.customer.billing_address == Address("9 Elm St", "Unit 4", "Dallas", "TX", "75001", "US", "Acme")


def test_update_shipping_address_only_writes_nothing(fake: FakeServer, adapter: LightspeedRAdapter, rich: str) -> None:
    result = adapter.update_customer(rich, {"shipping_address": Address(city="Elsewhere")})
    assert requests_made(fake, "PUT") == 0 and result.pos_id == rich


def test_update_unknown_customer_is_fatal(fake: FakeServer, adapter: LightspeedRAdapter) -> None:
    with pytest.raises(FatalError) as caught:
        adapter.update_customer("99999", {"first_name": "X"})
    assert caught.value.http_status == 404
    with pytest.raises(FatalError):
        adapter.update_customer("99999", {"phone": "555"})


def test_update_rejects_non_canonical_fields(adapter: LightspeedRAdapter, rich: str) -> None:
    with pytest.raises(ValueError, match="loyalty_points"):
        adapter.update_customer(rich, {"loyalty_points": 10})
