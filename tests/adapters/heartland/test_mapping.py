"""Heartland JSON <-> canonical customer, both ways, without HTTP."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from possync.adapters.heartland import mapping
from possync.adapters.heartland.mapping import CustomFields, RecordError, customer_from_record
from possync.models.customer import Address, Consent, ConsentState, Customer
from possync.models.tables import PosStatus
from tests.adapters.heartland.helpers import AUSTIN, CUSTOM_FIELDS, DALLAS, jane

FIELDS = CustomFields.from_settings(CUSTOM_FIELDS)
ADDR_1 = {"id": 11, "line_1": "1 Main St", "line_2": None, "city": "Austin", "state": "TX", "postal_code": "78701",
          "country": "US", "phone": "512-555-0100"}
ADDR_2 = {"id": 12, "line_1": "9 Elm St", "line_2": "Unit 4", "city": "Dallas", "state": "TX",
          "postal_code": "75201", "country": "US", "phone": None}


def record(**changes: object) -> dict:
    base = {
        "id": 7,
        "first_name": "Jane",
        "last_name": "Doe",
        "email": "jane@example.com",
        "phone_number": None,
        "active": True,
        "created_at": "2024-03-01T09:00:00.000-05:00",
        "updated_at": "2024-03-02T09:00:00.000-05:00",
        "deleted_at": None,
        "address_id": 11,
        "billing_address_id": 11,
        "shipping_address_id": 12,
        "address": ADDR_1,
        "billing_address": ADDR_1,
        "shipping_address": ADDR_2,
        "custom": {"email_opt_in": True, "dob": "1990-05-01", "shopify_tags": "Shopify, acme", "loyalty": "gold"},
    }
    return base | changes


def test_record_to_customer() -> None:
    found = customer_from_record(record(), FIELDS)
    stamp = datetime(2024, 3, 2, 14, 0, tzinfo=UTC)
    assert found.pos_id == "7" and found.status is PosStatus.ACTIVE and found.updated_at == stamp
    assert found.customer == Customer(
        first_name="Jane",
        last_name="Doe",
        email="jane@example.com",
        phone="512-555-0100",  # from the main address: phones live on addresses
        birthday=date(1990, 5, 1),
        billing_address=AUSTIN,
        shipping_address=DALLAS,
        email_consent=Consent(ConsentState.SUBSCRIBED, stamp),
        sms_consent=None,
        tags=("Shopify", "acme"),
    )


@pytest.mark.parametrize(
    ("changes", "status"),
    [({}, PosStatus.ACTIVE), ({"active": False}, PosStatus.ARCHIVED),
     ({"active": False, "deleted_at": "2024-03-03T00:00:00Z"}, PosStatus.DELETED)],
    ids=["active", "inactive-is-archived", "deleted-at-is-deleted"],
)
def test_status(changes: dict, status: PosStatus) -> None:
    assert customer_from_record(record(**changes), FIELDS).status is status


def test_customer_phone_field_wins_over_the_address_phone() -> None:
    assert customer_from_record(record(phone_number="555 0199"), FIELDS).customer.phone == "555 0199"
    assert customer_from_record(record(phone_number="  "), FIELDS).customer.phone == "512-555-0100"


def test_without_includes_the_main_address_stands_in_where_the_links_point_at_it() -> None:
    plain = record(billing_address=None, shipping_address=None, shipping_address_id=11)
    plain.pop("billing_address")
    plain.pop("shipping_address")
    c = customer_from_record(plain, FIELDS).customer
    assert c.billing_address == AUSTIN and c.shipping_address == AUSTIN
    other = plain | {"shipping_address_id": 12}
    assert customer_from_record(other, FIELDS).customer.shipping_address is None
    no_links = plain | {"billing_address_id": None, "shipping_address_id": None}
    assert customer_from_record(no_links, FIELDS).customer.billing_address == AUSTIN


def test_unmapped_custom_fields_are_not_read() -> None:
    c = customer_from_record(record(), CustomFields()).customer
    assert (c.birthday, c.email_consent, c.sms_consent, c.tags) == (None, None, None, ())


@pytest.mark.parametrize(
    ("value", "flag"),
    [(True, True), (False, False), ("Yes", True), ("no", False), (1, True), (0, False), ("maybe", None), (None, None),
     ("", None)],
    ids=["true", "false", "Yes", "no", "one", "zero", "maybe", "null", "blank"],
)
def test_opt_in_values_typed_by_staff(value: object, flag: bool | None) -> None:
    c = customer_from_record(record(custom={"email_opt_in": value}), FIELDS).customer
    assert (c.email_consent.state.allows_marketing if c.email_consent else None) == flag


@pytest.mark.parametrize(
    ("value", "expected"),
    [("1990-05-01", date(1990, 5, 1)), ("05/01/1990", date(1990, 5, 1)), ("1990-05-01T00:00:00Z", date(1990, 5, 1)),
     ("sometime in May", None), (19900501, None)],
    ids=["iso", "us", "iso-datetime", "words", "number"],
)
def test_birthday_values(value: object, expected: date | None) -> None:
    assert customer_from_record(record(custom={"dob": value}), FIELDS).customer.birthday == expected


def test_tags_values() -> None:
    assert mapping.parse_tags("a, b,,a , c") == ("a", "b", "c")
    assert mapping.parse_tags(["x", " y ", 3]) == ("x", "y")
    assert mapping.parse_tags(None) == ()


@pytest.mark.parametrize(
    ("changes", "field"),
    [({"id": None}, "id"), ({"id": "7a"}, "id"), ({"id": True}, "id"), ({"active": "true"}, "active"),
     ({"active": None}, "active"), ({"first_name": 5}, "first_name"), ({"updated_at": "Tuesday"}, "updated_at"),
     ({"custom": ["x"]}, "custom"), ({"billing_address": {"id": 11, "line_1": 12}}, "billing_address.line_1"),
     ({"address": "1 Main St"}, "address"), ({"billing_address_id": 1.5, "billing_address": None},
                                              "billing_address_id")],
    ids=["no-id", "id-letters", "id-bool", "active-string", "active-missing", "name-number", "updated-at-words",
         "custom-list", "address-line-number", "address-string", "link-float"],
)
def test_contract_breaks_name_the_field(changes: dict, field: str) -> None:
    with pytest.raises(RecordError) as info:
        customer_from_record(record(**changes), FIELDS)
    assert info.value.field == field


def test_not_an_object() -> None:
    with pytest.raises(RecordError, match="customer"):
        customer_from_record(["x"], FIELDS)


# --- writing ----------------------------------------------------------------------------------------


def test_customer_body_leaves_out_empty_values() -> None:
    body = mapping.customer_body(jane(birthday=date(1990, 5, 1), last_name=None), FIELDS)
    assert body == {
        "first_name": "Jane",
        "email": "jane@example.com",
        "phone_number": "5125550100",
        "custom": {"dob": "1990-05-01", "email_opt_in": True, "shopify_tags": "Shopify, acme"},
    }
    bare = mapping.customer_body(Customer(email="a@b.co"), FIELDS)
    assert bare == {"email": "a@b.co"}


@pytest.mark.parametrize(
    ("state", "written"),
    [(ConsentState.SUBSCRIBED, True), (ConsentState.PENDING, False), (ConsentState.NOT_SUBSCRIBED, False),
     (ConsentState.UNSUBSCRIBED, False), (ConsentState.REDACTED, False), (ConsentState.INVALID, False)],
    ids=lambda v: str(v),
)
def test_consent_is_written_from_allows_marketing(state: ConsentState, written: bool) -> None:
    assert mapping.custom_values({"email_consent": Consent(state)}, FIELDS) == {"email_opt_in": written}


def test_custom_values_for_changes_blank_with_none() -> None:
    values = mapping.custom_values({"birthday": None, "tags": (), "email_consent": None, "first_name": "x"}, FIELDS)
    assert values == {"dob": None, "shopify_tags": "", "email_opt_in": None}
    assert mapping.custom_values({"sms_consent": Consent(ConsentState.SUBSCRIBED)}, FIELDS) == {}


def test_address_body() -> None:
    assert mapping.address_body(DALLAS, "Jane", "Doe", "5125550100") == {
        "first_name": "Jane", "last_name": "Doe", "line_1": "9 Elm St", "line_2": "Unit 4", "city": "Dallas",
        "state": "TX", "postal_code": "75201", "country": "US", "phone": "5125550100",
    }
    assert "phone" not in mapping.address_body(DALLAS, None, None, None)
    assert mapping.address_missing_fields(Address(address1="x"), "billing_address") == [
        "billing_address.city", "billing_address.province_code", "billing_address.zip", "billing_address.country_code"
    ]


def test_round_trip_through_the_vendor_shape() -> None:
    """What the adapter writes reads back as the same customer (consent time aside)."""
    original = jane(birthday=date(1990, 5, 1), shipping_address=DALLAS)
    body = mapping.customer_body(original, FIELDS)
    billing = {"id": 1, **mapping.address_body(AUSTIN, "Jane", "Doe", original.phone)}
    shipping = {"id": 2, **mapping.address_body(DALLAS, "Jane", "Doe", original.phone)}
    stored = {"id": 3, "active": True, **body, "address_id": 1, "billing_address_id": 1, "shipping_address_id": 2,
              "address": billing, "billing_address": billing, "shipping_address": shipping}
    assert customer_from_record(stored, FIELDS).customer == original


def test_search_variants() -> None:
    variants = mapping.phone_variants("+1 (613) 555-1212")
    for spelling in ("6135551212", "16135551212", "+16135551212", "(613) 555-1212", "613-555-1212", "613.555.1212"):
        assert spelling in variants
    assert len(variants) == len(set(variants))
    assert mapping.phone_variants("+44 20 7946 0958")[:3] == ["+44 20 7946 0958", "442079460958", "+442079460958"]
    assert mapping.phone_variants("none") == []
    assert mapping.email_variants(" A@B.co ") == ["A@B.co", "a@b.co"]
    assert mapping.email_variants("a@b.co") == ["a@b.co"]


def test_custom_field_settings() -> None:
    assert CustomFields.from_settings({"tags": "t", "birthday": ""}) == CustomFields(tags="t")
    with pytest.raises(ValueError, match="optin"):
        CustomFields.from_settings({"optin": "x"})
    caps = mapping.capabilities_for(CustomFields(tags="t", sms_opt_in="s"))
    assert caps.tags_field == "custom:t" and caps.sms_consent and not caps.has_tags and caps.phone_slot == "mobile"
