"""Unit tests of the R-Series mapping, both directions, on hand-written vendor JSON."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from possync.adapters.errors import BadResponseError
from possync.adapters.lightspeed_r import mapping
from possync.adapters.lightspeed_r.fake.store import CustomerStore
from possync.models.customer import Address, Consent, ConsentState, Customer
from possync.models.tables import PosStatus

EP = "GET Customer/{id}.json"


def vendor_record(**overrides: object) -> dict:
    """A customer as the vendor sends it: all strings, one-element collections as bare objects."""
    record = {
        "customerID": "42",
        "firstName": "Jane",
        "lastName": "Doe",
        "title": "",
        "company": "Acme",
        "dob": "1990-05-01T07:00:00+00:00",
        "archived": "false",
        "createTime": "2024-01-02T03:04:05+00:00",
        "timeStamp": "2024-02-03T04:05:06+00:00",
        "creditAccountID": "0",
        "customerTypeID": "0",
        "discountID": "0",
        "taxCategoryID": "0",
        "Contact": {
            "contactID": "7",
            "custom": "",
            "noEmail": "false",
            "noPhone": "true",
            "noMail": "false",
            "Addresses": {"ContactAddress": {"address1": "1 Main St", "address2": "", "city": "Austin",
                                             "state": "Texas", "stateCode": "TX", "zip": "78701", "country": "",
                                             "countryCode": "US", "contactAddressID": "9"}},
            "Phones": {"ContactPhone": [{"number": "555-1111", "useType": "Work", "contactPhoneID": "3"},
                                        {"number": "(360) 555-2453", "useType": "Home", "contactPhoneID": "4"}]},
            "Emails": {"ContactEmail": [{"address": "alt@example.com", "useType": "Secondary", "contactEmailID": "5"},
                                        {"address": "jane@example.com", "useType": "Primary", "contactEmailID": "6"}]},
            "Websites": "",
            "timeStamp": "2024-03-01T00:00:00+00:00",
        },
        "Tags": {"@attributes": {"count": "2"}, "tag": ["vip", "Shopify"]},
    }
    record.update(overrides)
    return record


def test_vendor_record_to_canonical() -> None:
    pos = mapping.to_pos_customer(vendor_record(), EP)
    c = pos.customer
    assert pos.pos_id == "42" and pos.status is PosStatus.ACTIVE
    assert (c.first_name, c.last_name) == ("Jane", "Doe")
    assert c.email == "jane@example.com"  # Primary wins over Secondary, whatever the order
    assert c.phone == "(360) 555-2453"  # Home wins over Work
    assert c.birthday == date(1990, 5, 1)
    assert c.billing_address == Address("1 Main St", None, "Austin", "TX", "78701", "US", "Acme")
    assert c.shipping_address is None
    assert c.tags == ("vip", "Shopify")
    contact_stamp = datetime(2024, 3, 1, tzinfo=UTC)  # newer than the customer's timeStamp
    assert c.email_consent == Consent(ConsentState.SUBSCRIBED, contact_stamp)  # noEmail "false": opted in
    assert c.sms_consent == Consent(ConsentState.UNSUBSCRIBED, contact_stamp)  # noPhone "true": opted out
    assert pos.created_at == datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert pos.updated_at == datetime(2024, 2, 3, 4, 5, 6, tzinfo=UTC)


def test_archived_string_flag_is_parsed_not_truthy() -> None:
    assert mapping.to_pos_customer(vendor_record(archived="false"), EP).status is PosStatus.ACTIVE
    assert mapping.to_pos_customer(vendor_record(archived="true"), EP).status is PosStatus.ARCHIVED


def test_empty_collections_are_empty_strings() -> None:
    record = vendor_record(Tags="")
    record["Contact"] = {**record["Contact"], "Phones": "", "Emails": "", "Addresses": ""}
    c = mapping.to_pos_customer(record, EP).customer
    assert (c.email, c.phone, c.billing_address, c.tags) == (None, None, None, ())


def test_single_elements_are_bare_objects_or_strings() -> None:
    record = vendor_record(Tags={"tag": "vip"})
    record["Contact"] = {**record["Contact"], "Phones": {"ContactPhone": {"number": "555", "useType": "Mobile"}}}
    c = mapping.to_pos_customer(record, EP).customer
    assert c.tags == ("vip",) and c.phone == "555"


def test_without_contact_relation_there_is_no_contact_data() -> None:
    record = vendor_record()
    del record["Contact"]
    c = mapping.to_pos_customer(record, EP).customer
    assert (c.email, c.phone, c.email_consent, c.sms_consent, c.billing_address) == (None,) * 5


@pytest.mark.parametrize(
    ("dob", "day"),
    [
        ("2021-01-01T08:00:00+00:00", date(2021, 1, 1)),  # the docs' example: a store at UTC-8
        ("1990-04-30T14:00:00+00:00", date(1990, 5, 1)),  # a store at UTC+10 shown in UTC
        ("1990-05-01T00:00:00+10:00", date(1990, 5, 1)),  # the same day with its own offset
        ("1990-05-01T00:00:00", date(1990, 5, 1)),
    ],
    ids=["utc-minus-8", "utc-plus-10-in-utc", "local-offset", "naive"],
)
def test_dob_is_the_store_calendar_day(dob: str, day: date) -> None:
    assert mapping.to_pos_customer(vendor_record(dob=dob), EP).customer.birthday == day


def test_dob_absent_means_no_birthday() -> None:
    record = vendor_record()
    del record["dob"]
    assert mapping.to_pos_customer(record, EP).customer.birthday is None


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"customerID": "0"}, "customerID"),
        ({"customerID": "abc"}, "customerID"),
        ({"archived": "maybe"}, "archived"),
        ({"archived": None}, "archived"),
        ({"timeStamp": "yesterday"}, "timeStamp"),
        ({"firstName": {"x": 1}}, "firstName"),
        ({"dob": "soon"}, "dob"),
        ({"Contact": ["not", "an", "object"]}, "Contact"),
        ({"Tags": {"tag": [{"name": "x"}]}}, "Tags.tag"),
    ],
    ids=["id-zero", "id-not-numeric", "archived-not-boolean", "archived-missing", "bad-timestamp",
         "name-not-string", "bad-dob", "contact-is-list", "tag-not-string"],
)
def test_malformed_records_raise_bad_response_naming_the_field(change: dict, field: str) -> None:
    record = {k: v for k, v in vendor_record(**change).items() if v is not None}
    with pytest.raises(BadResponseError) as caught:
        mapping.to_pos_customer(record, EP)
    assert field in str(caught.value)
    assert "lightspeed-r" in str(caught.value) and EP in str(caught.value)


def test_bad_collection_inside_contact() -> None:
    record = vendor_record()
    record["Contact"] = {**record["Contact"], "Emails": {"ContactEmail": ["just-a-string"]}}
    with pytest.raises(BadResponseError, match="ContactEmail"):
        mapping.to_pos_customer(record, EP)


def test_list_body_shapes() -> None:
    one = {"@attributes": {"next": "", "previous": ""}, "Customer": vendor_record()}
    many = {"@attributes": {"next": "https://x/y?after=abc"}, "Customer": [vendor_record(), vendor_record()]}
    none = {"@attributes": {"next": "", "previous": "", "count": "0"}}
    assert len(mapping.records_from_list(one, EP)) == 1
    assert len(mapping.records_from_list(many, EP)) == 2
    assert mapping.records_from_list(none, EP) == []
    assert mapping.next_url(one, EP) is None
    assert mapping.next_url(many, EP) == "https://x/y?after=abc"
    with pytest.raises(BadResponseError, match="next"):
        mapping.next_url({"@attributes": {"next": 5}}, EP)
    with pytest.raises(BadResponseError, match="Customer"):
        mapping.records_from_list({"Customer": [1, 2]}, EP)
    with pytest.raises(BadResponseError, match="Customer"):
        mapping.record_from_single({"@attributes": {}}, EP)


# --- writing ---------------------------------------------------------------------------------
FULL = Customer(
    first_name="Jane",
    last_name="Doe",
    email="jane@example.com",
    phone="+1 360 555 2453",
    birthday=date(1990, 5, 1),
    billing_address=Address("1 Main St", "Apt 2", "Austin", "TX", "78701", "US", "Acme"),
    shipping_address=Address("2 Other St", None, "Dallas", "TX", "75001", "US"),
    email_consent=Consent(ConsentState.SUBSCRIBED),
    sms_consent=Consent(ConsentState.PENDING),
    tags=("Shopify", "acme"),
)


def test_create_body() -> None:
    body = mapping.create_body(FULL)
    assert body["firstName"] == "Jane" and body["lastName"] == "Doe"
    assert body["dob"] == "1990-05-01T00:00:00+00:00"
    assert body["company"] == "Acme"
    contact = body["Contact"]
    assert contact["noEmail"] is False  # subscribed -> not opted out
    assert contact["noPhone"] is True  # pending is not a yes
    assert contact["Phones"] == {"ContactPhone": [{"number": "+1 360 555 2453", "useType": "Home"}]}
    assert contact["Emails"] == {"ContactEmail": [{"address": "jane@example.com", "useType": "Primary"}]}
    assert contact["Addresses"]["ContactAddress"] == [
        {"address1": "1 Main St", "address2": "Apt 2", "city": "Austin", "state": "TX", "stateCode": "TX",
         "zip": "78701", "countryCode": "US"}
    ]
    assert body["Tags"] == {"tag": ["Shopify", "acme"]}
    assert "Dallas" not in str(body)  # no shipping address in R-Series


@pytest.mark.parametrize(
    ("state", "no_email"),
    [(ConsentState.SUBSCRIBED, False), (ConsentState.PENDING, True), (ConsentState.NOT_SUBSCRIBED, True),
     (ConsentState.UNSUBSCRIBED, True), (ConsentState.REDACTED, True), (ConsentState.INVALID, True)],
    ids=lambda v: str(v),
)
def test_email_consent_is_written_inverted(state: ConsentState, no_email: bool) -> None:
    assert mapping.create_body(Customer(email_consent=Consent(state)))["Contact"]["noEmail"] is no_email


def test_create_body_leaves_out_what_is_unknown() -> None:
    assert mapping.create_body(Customer(first_name="Solo")) == {"firstName": "Solo"}


def test_province_name_goes_to_state_only() -> None:
    body = mapping.address_body(Address(address1="x", province_code="Ontario"))
    assert body["state"] == "Ontario" and body["stateCode"] == ""


def test_update_body_writes_only_given_fields() -> None:
    assert mapping.update_body({"first_name": "Janet"}, None, EP) == {"firstName": "Janet"}
    assert mapping.update_body({"email_consent": Consent(ConsentState.UNSUBSCRIBED)}, None, EP) == {
        "Contact": {"noEmail": True}
    }
    assert mapping.update_body({"tags": ("a", "b")}, None, EP) == {"Tags": {"tag": ["a", "b"]}}
    assert mapping.update_body({"shipping_address": Address(city="x")}, None, EP) == {}


def test_update_body_keeps_other_collection_entries_and_ids() -> None:
    current = vendor_record()
    body = mapping.update_body({"phone": "999", "email": "new@example.com"}, current, EP)
    phones = body["Contact"]["Phones"]["ContactPhone"]
    assert {"number": "999", "useType": "Home", "contactPhoneID": "4"} in phones  # Home edited in place
    assert {"number": "555-1111", "useType": "Work", "contactPhoneID": "3"} in phones  # Work kept
    emails = body["Contact"]["Emails"]["ContactEmail"]
    assert {"address": "new@example.com", "useType": "Primary", "contactEmailID": "6"} in emails
    assert {"address": "alt@example.com", "useType": "Secondary", "contactEmailID": "5"} in emails
    assert set(body) == {"Contact"} and set(body["Contact"]) == {"Phones", "Emails"}


def test_update_body_address_keeps_its_id() -> None:
    body = mapping.update_body({"billing_address": Address("2 New Rd", None, "Waco", "TX", "76701", "US")},
                               vendor_record(), EP)
    (address,) = body["Contact"]["Addresses"]["ContactAddress"]
    assert address["contactAddressID"] == "9" and address["address1"] == "2 New Rd"
    assert "company" not in body  # no company given: the stored one is not blanked


def test_update_body_refuses_unknown_fields() -> None:
    with pytest.raises(ValueError, match="loyalty"):
        mapping.update_body({"loyalty": 5}, None, EP)


def test_round_trip_through_the_fake_store() -> None:
    """What create_body writes, the vendor's rendering reads back as the same canonical values."""
    store = CustomerStore(store_utc_offset_hours=-8)
    record = store.create(mapping.create_body(FULL))
    rendered = store.render(record, ("Contact", "Tags"))
    assert rendered["dob"] == "1990-05-01T08:00:00+00:00"  # the vendor's local-midnight quirk
    back = mapping.to_pos_customer(rendered, EP).customer
    expected = FULL.replace(shipping_address=None, sms_consent=Consent(ConsentState.UNSUBSCRIBED))
    assert back.fingerprint() == expected.fingerprint()
