"""A Shopify customer as a Freshsales contact: SPEC rules 41 (fields), 42 (status), 43 (consent), 45."""

from __future__ import annotations

import pytest

from possync.adapters.freshsales.mapping import (
    CrmSchema,
    contact_payload,
    contact_status,
    e164,
    fingerprint,
    unique_identifier,
)
from possync.models.customer import Consent, ConsentState, Customer
from possync.models.shopify_values import ShopifyCustomer

SCHEMA = CrmSchema({"lifetime_value": "cf_ltv", "tax_exempt": "cf_tax", "store_name": "cf_store",
                    "order_count": "cf_orders"}, 10,
                   {"Invited": 1, "Activated": 2, "Paying": 3, "Deactivated": 4, "Declined": 5}, 77)


def customer(**kwargs) -> ShopifyCustomer:  # type: ignore[no-untyped-def]
    person = kwargs.pop("person", Customer(first_name="Ana", email="ana@example.com", phone="(613) 555-1212"))
    return ShopifyCustomer(id="42", customer=person, **kwargs)


@pytest.mark.parametrize(("state", "orders", "status"), [
    ("invited", 0, "Invited"), ("enabled", 0, "Activated"), ("disabled", 0, "Deactivated"),
    ("declined", 0, "Declined"), ("enabled", 1, "Paying"), ("invited", 3, "Paying"),
    ("disabled", 2, "Deactivated"), ("declined", 5, "Declined"), (None, 0, None),
])
def test_status_from_account_state_and_orders(state: str | None, orders: int, status: str | None) -> None:
    assert contact_status(customer(state=state, orders_count=orders)) == status


def test_fields_of_rule_41() -> None:
    contact = contact_payload(customer(state="enabled", orders_count=2, amount_spent="120.50", currency="EUR",
                                       tax_exempt=True), SCHEMA, store_name="acmestore", first_write=True)
    assert contact["mobile_number"] == "+16135551212"  # E.164
    assert contact["external_id"] == "42" and contact["lead_source_id"] == 77
    assert contact["custom_field"] == {"cf_ltv": "120.50 EUR", "cf_tax": "Yes", "cf_store": "acmestore",
                                       "cf_orders": 2}
    assert (contact["lifecycle_stage_id"], contact["contact_status_id"]) == (10, 3)


def test_source_is_sent_on_possyncs_first_write_only() -> None:
    assert "lead_source_id" not in contact_payload(customer(), SCHEMA, store_name="s")


def test_empty_values_never_blank_a_crm_value() -> None:
    """Rule 45 (rule 21): what Shopify lacks is not sent, so the CRM keeps its own value."""
    bare = customer(person=Customer(email="ana@example.com"))
    contact = contact_payload(bare, SCHEMA, store_name="")
    assert set(contact) == {"emails", "external_id"}  # no name, phone, address, consent or store name to send
    assert all(v not in (None, "") for v in contact.values())


def test_a_field_the_crm_lacks_is_left_out_and_the_rest_goes() -> None:
    partial = CrmSchema({"order_count": "cf_orders"})
    contact = contact_payload(customer(orders_count=1, tax_exempt=False), partial, store_name="acme")
    assert contact["custom_field"] == {"cf_orders": 1} and contact["first_name"] == "Ana"
    assert "contact_status_id" not in contact  # no stage "Customer" in that CRM


@pytest.mark.parametrize(("state", "expected"), [
    (ConsentState.SUBSCRIBED, "subscribed"), (ConsentState.UNSUBSCRIBED, "unsubscribed"),
    (ConsentState.NOT_SUBSCRIBED, "not_subscribed"), (ConsentState.PENDING, "not_subscribed"),
    (ConsentState.REDACTED, "unsubscribed"),
])
def test_email_subscription_from_email_consent(state: ConsentState, expected: str) -> None:
    person = Customer(email="ana@example.com", email_consent=Consent(state))
    assert contact_payload(customer(person=person), SCHEMA, store_name="s")["subscription_status"] == expected


def test_sms_and_whatsapp_from_sms_consent_and_the_phone_switch() -> None:
    """Rule 43: a phone alone is not consent unless the tenant asks for the seed's behaviour."""
    person = Customer(email="ana@example.com", phone="6135551212")
    plain = contact_payload(customer(person=person), SCHEMA, store_name="s")
    assert "sms_subscription_status" not in plain  # no consent known: the CRM's value stays
    seeded = contact_payload(customer(person=person), SCHEMA, store_name="s", sms_subscribed_when_phone=True)
    assert seeded["sms_subscription_status"] == seeded["whatsapp_subscription_status"] == "subscribed"
    opted_out = Customer(email="a@b.co", phone="6135551212", sms_consent=Consent(ConsentState.UNSUBSCRIBED))
    kept = contact_payload(customer(person=opted_out), SCHEMA, store_name="s", sms_subscribed_when_phone=True)
    assert kept["sms_subscription_status"] == "unsubscribed"  # the switch never overrides an opt-out


def test_unchanged_contact_has_the_same_fingerprint_whatever_updated_at_says() -> None:
    from datetime import UTC, datetime

    one = contact_payload(customer(updated_at=datetime(2026, 1, 1, tzinfo=UTC)), SCHEMA, store_name="s")
    two = contact_payload(customer(updated_at=datetime(2026, 2, 1, tzinfo=UTC)), SCHEMA, store_name="s")
    changed = contact_payload(customer(orders_count=1), SCHEMA, store_name="s")
    assert fingerprint(one) == fingerprint(two) != fingerprint(changed)


def test_upsert_key_is_email_else_external_id() -> None:
    assert unique_identifier({"emails": "a@b.co", "external_id": "1"}) == {"emails": "a@b.co"}
    assert unique_identifier({"external_id": "1"}) == {"external_id": "1"}


def test_e164_in_the_tenants_region() -> None:
    assert e164("020 7946 0958", "GB") == "+442079460958"
    assert e164("12", "US") is None and e164(None, "US") is None


def test_rule_52_a_military_address_goes_to_the_crm_in_its_military_form() -> None:
    from possync.models.customer import Address

    address = Address(address1="unit 2050  box 4190", city="apo", province_code="Armed Forces Europe",
                      zip="09096", country_code=None)
    person = Customer(first_name="Ana", email="ana@example.com", billing_address=address)
    contact = contact_payload(customer(person=person), SCHEMA, store_name="s")
    assert (contact["address"], contact["city"], contact["state"], contact["country"]) == (
        "UNIT 2050 BOX 4190", "APO", "AE", "US")
