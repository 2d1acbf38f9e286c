"""Creating a POS customer from a Shopify customer (SPEC rules 14 to 18, 25)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from possync.adapters.base import Capabilities
from possync.models.customer import Address, Consent, ConsentState, Customer
from possync.models.shopify_values import ShopifyCustomer, ShopifyOrder
from possync.models.tags import Tags
from possync.tasks.rules.mapping import (
    desired_pos_customer,
    held_fields,
)
from tests.tasks.rules.support import HEARTLAND, R_SERIES, X_SERIES, from_held_values, held_values

HOME = Address("1 Main St", None, "Ottawa", "ON", "K1A 0B1", "CA")
SHIP = Address("9 Dock Rd", None, "Halifax", "NS", "B3H 1A1", "CA")
T0 = datetime(2025, 3, 1, tzinfo=UTC)
JANE = Customer(
    first_name="Jane", last_name="Doe", email="Jane@Example.com", phone="+1 613-555-1212", birthday=date(1990, 5, 17),
    billing_address=HOME, email_consent=Consent(ConsentState.SUBSCRIBED, T0),
    sms_consent=Consent(ConsentState.NOT_SUBSCRIBED, T0), tags=("vip", "wholesale"),
)
SHOPIFY_JANE = ShopifyCustomer(id="1001", customer=JANE)
ORDER = ShopifyOrder(id="5001", customer=SHOPIFY_JANE, source_name="web", shipping_address=SHIP)


def desired(
    caps: Capabilities, order: ShopifyOrder | None = ORDER, shopify: ShopifyCustomer = SHOPIFY_JANE
) -> Customer:
    return desired_pos_customer(shopify, order=order, account_name="acmestore", capabilities=caps)


def test_rule_14_create_fields() -> None:
    c = desired(X_SERIES)
    assert (c.first_name, c.last_name, c.email, c.phone) == ("Jane", "Doe", "Jane@Example.com", "+1 613-555-1212")
    assert c.birthday == date(1990, 5, 17)
    assert c.billing_address == HOME
    assert c.email_consent == Consent(ConsentState.SUBSCRIBED, T0)
    assert c.tags == ("Shopify", "acmestore")  # only ours: the Shopify customer's own tags are not POS tags


def test_rule_14_tags_dedupe_case_insensitively() -> None:
    c = desired_pos_customer(SHOPIFY_JANE, order=None, account_name="SHOPIFY", capabilities=R_SERIES)
    assert c.tags == ("Shopify",)
    merged = Tags(["VIP", " vip ", "Sale", ""]).union(["sale", "New"])
    assert tuple(str(t) for t in merged) == ("VIP", "Sale", "New")


@pytest.mark.parametrize(("caps", "slot"), [(R_SERIES, "Home"), (X_SERIES, "phone"), (HEARTLAND, "mobile")])
def test_rule_15_phone_1_goes_to_the_pos_slot(caps: Capabilities, slot: str) -> None:
    values = held_values(desired(caps), caps)
    assert values[slot] == "+1 613-555-1212"
    assert "phone" not in values or slot == "phone"


def test_rule_16_default_address_is_billing_and_order_shipping_goes_where_held() -> None:
    assert desired(X_SERIES).billing_address == HOME
    assert desired(X_SERIES).shipping_address == SHIP
    assert desired(HEARTLAND).shipping_address == SHIP
    assert desired(R_SERIES).shipping_address is None  # R-Series: travels with the sale only
    assert "shipping_address" not in held_fields(R_SERIES)
    assert desired(X_SERIES, order=None).shipping_address is None  # customers/update: no order


def test_rule_16_order_fills_a_customer_without_default_address_email_or_phone() -> None:
    bare = ShopifyCustomer(id="2", customer=Customer(first_name="Al"))
    order = ShopifyOrder(id="9", customer=bare, email=" al@example.com ", phone="6135550000", billing_address=HOME)
    c = desired(X_SERIES, order=order, shopify=bare)
    assert (c.email, c.phone, c.billing_address) == ("al@example.com", "6135550000", HOME)
    assert desired(X_SERIES, order=None, shopify=bare).billing_address is None


def test_rule_16_an_empty_address_is_no_address() -> None:
    shopify = ShopifyCustomer(id="3", customer=JANE.replace(billing_address=Address()))
    assert desired(R_SERIES, order=None, shopify=shopify).billing_address is None


def test_rule_17_birthday_from_facts_birth_date_or_none() -> None:
    assert desired(R_SERIES).birthday == date(1990, 5, 17)
    no_birthday = ShopifyCustomer(id="4", customer=JANE.replace(birthday=None))
    assert desired(R_SERIES, shopify=no_birthday).birthday is None


def test_rule_18_tags_go_to_the_tags_field_where_a_pos_has_no_tags() -> None:
    assert held_values(desired(R_SERIES), R_SERIES)["tags"] == ("Shopify", "acmestore")
    assert held_values(desired(X_SERIES), X_SERIES)["custom_field_4"] == "Shopify, acmestore"
    assert held_values(desired(HEARTLAND), HEARTLAND)["custom:tags"] == "Shopify, acmestore"
    no_tag_field = Capabilities(phone_slot="mobile", has_tags=False, sms_consent=False, shipping_address=True)
    assert desired(no_tag_field).tags == ()
    assert "tags" not in held_fields(no_tag_field)


def test_rule_18_tag_text_round_trips_and_tolerates_hand_edits() -> None:
    assert Tags.parse(Tags(["Shopify", "acmestore"]).text()) == ("Shopify", "acmestore")
    assert tuple(Tags.parse("Shopify;acmestore , vip,,")) == ("Shopify", "acmestore", "vip")
    assert Tags.parse(None) == ()


def test_rule_25_email_consent_everywhere_sms_where_held() -> None:
    for caps in (R_SERIES, X_SERIES, HEARTLAND):
        assert desired(caps).email_consent == Consent(ConsentState.SUBSCRIBED, T0)
    assert desired(R_SERIES).sms_consent is not None
    assert desired(X_SERIES).sms_consent is not None  # [beyond]: enable_promotional_sms
    assert desired(HEARTLAND).sms_consent is None  # no sms_opt_in custom field mapped


def test_rule_24_heartland_without_mapped_fields_holds_no_birthday_or_consent() -> None:
    from possync.tasks.rules.heartland import heartland_capabilities

    bare = heartland_capabilities({})
    c = desired(bare)
    assert (c.birthday, c.email_consent, c.sms_consent, c.tags) == (None, None, None, ())
    assert c.email == "Jane@Example.com" and c.billing_address == HOME


def test_held_values_round_trip_consent_as_flags() -> None:
    caps = X_SERIES
    back = from_held_values(held_values(desired(caps), caps), caps)
    assert back.email_consent is not None and back.email_consent.state is ConsentState.SUBSCRIBED
    assert back.sms_consent is not None and back.sms_consent.state is ConsentState.UNSUBSCRIBED
    assert back.tags == ("Shopify", "acmestore")
