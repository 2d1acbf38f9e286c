"""X-Series JSON <-> canonical customer, both ways, without HTTP."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from possync.adapters.errors import BadResponseError
from possync.adapters.lightspeed_x.mapping import (
    TAGS_FIELD,
    from_vendor,
    tags_from_field,
    tags_to_field,
    to_vendor_changes,
    to_vendor_create,
)
from possync.models.customer import Address, Consent, ConsentState, Customer
from possync.models.tables import PosStatus

EP = "GET /api/2.0/customers/{id}"

# The vendor's own example (OpenAPI 2026-07), trimmed.
TONY = {
    "id": "b8ca3a65-0183-11e4-fbb5-4f73f02a9d1c",
    "first_name": "Anthony",
    "last_name": "Stark",
    "company_name": "Stark Industries Inc",
    "customer_code": "Tony-N4ZJ",
    "email": "tony@stark.com",
    "phone": "+001 555 12345678",
    "mobile": "+001 485 23456789",
    "date_of_birth": "1963-03-03",
    "do_not_email": False,
    "enable_promotional_sms": False,
    "physical_address_1": "Street 1",
    "physical_address_2": "Street 2",
    "physical_suburb": "Suburb",
    "physical_city": "Los Angeles",
    "physical_postcode": "23422",
    "physical_state": "California",
    "physical_country_id": "NZ",
    "postal_address_1": "PO Box 9",
    "postal_city": "Malibu",
    "postal_country_id": "US",
    "custom_field_4": "Shopify, acme",
    "created_at": "2014-10-09T05:20:09+00:00",
    "updated_at": "2017-01-19T16:49:35+00:00",
    "version": 2691964626,
}


def test_vendor_record_maps_every_synced_field() -> None:
    pc = from_vendor(TONY, EP)
    stamp = datetime(2017, 1, 19, 16, 49, 35, tzinfo=UTC)
    assert pc.pos_id == TONY["id"]
    assert pc.status is PosStatus.ACTIVE
    assert pc.created_at == datetime(2014, 10, 9, 5, 20, 9, tzinfo=UTC)
    assert pc.updated_at == stamp
    c = pc.customer
    assert (c.first_name, c.last_name, c.email, c.phone) == ("Anthony", "Stark", "tony@stark.com", "+001 555 12345678")
    assert c.birthday == date(1963, 3, 3)
    assert c.billing_address == Address(
        address1="Street 1", address2="Street 2", city="Los Angeles", province_code="California",
        zip="23422", country_code="NZ", company="Stark Industries Inc",
    )  # fmt: skip
    assert c.shipping_address == Address(address1="PO Box 9", city="Malibu", country_code="US")
    # do_not_email is an opt-OUT flag: false reads as opted in; the consent time is the record's.
    assert c.email_consent == Consent(ConsentState.SUBSCRIBED, stamp)
    assert c.sms_consent == Consent(ConsentState.UNSUBSCRIBED, stamp)
    assert c.tags == ("Shopify", "acme")


def test_minimal_record_with_null_names_and_left_out_keys() -> None:
    """Real records hold null names (UNNAMED-669D) and responses leave null fields out."""
    record = {"id": "06bf537b-c783-11e6-ff13-f21286299973", "first_name": None, "last_name": None,
              "customer_code": "UNNAMED-669D", "do_not_email": True, "enable_promotional_sms": True}  # fmt: skip
    c = from_vendor(record, EP).customer
    assert c.first_name is None and c.last_name is None and c.email is None and c.phone is None
    assert c.billing_address is None and c.shipping_address is None and c.birthday is None
    assert c.email_consent.state is ConsentState.UNSUBSCRIBED
    assert c.sms_consent.state is ConsentState.SUBSCRIBED
    assert c.email_consent.updated_at is None
    assert c.tags == ()


def test_mobile_stands_in_when_phone_is_empty() -> None:
    c = from_vendor({"id": "x", "first_name": "A", "last_name": "B", "phone": "  ", "mobile": "0412 345 678"}, EP)
    assert c.customer.phone == "0412 345 678"


def test_deleted_at_means_deleted() -> None:
    pc = from_vendor({**TONY, "deleted_at": "2024-01-01T00:00:00+00:00"}, EP)
    assert pc.status is PosStatus.DELETED


@pytest.mark.parametrize(
    ("record", "field"),
    [
        ({"first_name": "A"}, "data.id"),
        ({"id": 42}, "data.id"),
        ({"id": "x", "email": ["a@b.c"]}, "data.email"),
        ({"id": "x", "do_not_email": "false"}, "data.do_not_email"),
        ({"id": "x", "enable_promotional_sms": 1}, "data.enable_promotional_sms"),
        ({"id": "x", "date_of_birth": "03/03/1963"}, "data.date_of_birth"),
        ({"id": "x", "updated_at": "yesterday"}, "data.updated_at"),
        ({"id": "x", "physical_city": 7}, "data.physical_city"),
    ],
    ids=["no-id", "id-not-string", "email-list", "opt-out-string", "sms-int", "bad-date", "bad-stamp", "city-int"],
)
def test_unexpected_types_are_bad_responses_naming_the_field(record: dict, field: str) -> None:
    with pytest.raises(BadResponseError) as info:
        from_vendor(record, EP)
    assert field in str(info.value)
    assert info.value.vendor == "lightspeed-x" and info.value.endpoint == EP


def test_not_an_object_is_a_bad_response() -> None:
    with pytest.raises(BadResponseError, match="not an object"):
        from_vendor(["nope"], EP, where="data[3]")


def test_create_body_sends_names_always_and_no_nulls() -> None:
    customer = Customer(
        first_name=None,
        last_name="Lee",
        email="ann@example.com",
        phone="+1 613 555 1212",
        birthday=date(1990, 5, 17),
        billing_address=Address(address1="1 Main St", city="Ottawa", province_code="ON", zip="K1A 0B1",
                                country_code="CA", company="Lee Co"),
        shipping_address=Address(address1="2 Dock Rd", city="Kingston", country_code="CA"),
        email_consent=Consent(ConsentState.SUBSCRIBED),
        sms_consent=Consent(ConsentState.PENDING),
        tags=("Shopify", "acmestore"),
    )  # fmt: skip
    body = to_vendor_create(customer)
    assert body == {
        "first_name": None,
        "last_name": "Lee",
        "email": "ann@example.com",
        "phone": "+1 613 555 1212",
        "date_of_birth": "1990-05-17",
        TAGS_FIELD: "Shopify, acmestore",
        "physical_address_1": "1 Main St",
        "physical_city": "Ottawa",
        "physical_state": "ON",
        "physical_postcode": "K1A 0B1",
        "physical_country_id": "CA",
        "company_name": "Lee Co",
        "postal_address_1": "2 Dock Rd",
        "postal_city": "Kingston",
        "postal_country_id": "CA",
        "do_not_email": False,
        "enable_promotional_sms": False,  # pending is not a confirmed opt-in
    }
    assert "customer_code" not in body


def test_create_without_known_consent_writes_no_marketing() -> None:
    body = to_vendor_create(Customer(first_name="A", last_name="B"))
    assert body["do_not_email"] is True and body["enable_promotional_sms"] is False


@pytest.mark.parametrize(
    ("state", "do_not_email"),
    [(s, s is not ConsentState.SUBSCRIBED) for s in ConsentState],
    ids=[s.value for s in ConsentState],
)
def test_email_consent_writes_the_inverted_opt_out(state: ConsentState, do_not_email: bool) -> None:
    assert to_vendor_changes({"email_consent": Consent(state)}) == {"do_not_email": do_not_email}
    assert to_vendor_changes({"sms_consent": Consent(state)}) == {"enable_promotional_sms": not do_not_email}


def test_changes_write_only_the_given_fields() -> None:
    assert to_vendor_changes({"email": "new@example.com"}) == {"email": "new@example.com"}
    assert to_vendor_changes({"birthday": date(2000, 1, 2), "tags": ["Shopify"]}) == {
        "date_of_birth": "2000-01-02",
        TAGS_FIELD: "Shopify",
    }
    assert to_vendor_changes({"shipping_address": Address(address1="9 Elm", city="Hull")}) == {
        "postal_address_1": "9 Elm",
        "postal_address_2": None,
        "postal_city": "Hull",
        "postal_state": None,
        "postal_postcode": None,
        "postal_country_id": None,
    }
    assert to_vendor_changes({"email_consent": None}) == {}


def test_changes_reject_fields_that_are_not_synced() -> None:
    with pytest.raises(ValueError, match="customer_code"):
        to_vendor_changes({"customer_code": "X-1"})


def test_tags_round_trip_and_clean_up() -> None:
    assert tags_to_field(["Shopify", " acme ", "shopify", "a,b", ""]) == "Shopify, acme, a b"
    assert tags_from_field("Shopify,  acme,,SHOPIFY") == ("Shopify", "acme")
    assert tags_to_field([]) is None
    assert tags_from_field(None) == ()


def test_round_trip_through_vendor_shape() -> None:
    original = Customer(
        first_name="Zoë", last_name="Ng", email="z@example.com", phone="020 7946 0958",
        birthday=date(1985, 12, 1), billing_address=Address(address1="5 High St", city="London", zip="N1",
                                                             country_code="GB"),
        email_consent=Consent(ConsentState.UNSUBSCRIBED), sms_consent=Consent(ConsentState.SUBSCRIBED),
        tags=("Shopify", "acme"),
    )  # fmt: skip
    back = from_vendor({"id": "1", **to_vendor_create(original)}, EP).customer
    assert back.fingerprint() == original.fingerprint()
