"""Heartland Retail (SPEC rules 22 to 24): no half-created customers, the default customer, custom fields."""

from __future__ import annotations

import pytest

from possync.models.customer import Address, Customer
from possync.models.shopify_values import ShopifyCustomer, ShopifyOrder
from possync.models.tables import PosKind
from possync.tasks.rules.heartland import (
    create_problems,
    describe_problems,
    heartland_capabilities,
    uses_default_customer,
)
from possync.tasks.rules.mapping import held_fields

FULL = Address("1 Main St", None, "Ottawa", "ON", "K1A 0B1", "CA")
COMPLETE = Customer(first_name="Jane", email="jane@example.com", billing_address=FULL)
NO_ADDRESS = COMPLETE.replace(billing_address=None)


def order(customer: Customer | None, source: str = "web", **kw) -> ShopifyOrder:  # type: ignore[no-untyped-def]
    shopify = ShopifyCustomer(id="1", customer=customer) if customer is not None else None
    return ShopifyOrder(id="9", customer=shopify, source_name=source, **kw)


def test_rule_22_a_complete_customer_has_no_problems() -> None:
    assert create_problems(COMPLETE) == []


def test_rule_22_problems_name_every_missing_part() -> None:
    assert create_problems(Customer(email="not-an-email")) == [
        "email", "billing_address.address1", "billing_address.city", "billing_address.province_code",
        "billing_address.zip", "billing_address.country_code",
    ]
    partial = COMPLETE.replace(billing_address=Address("1 Main St", city="Ottawa", country_code="CA"))
    assert create_problems(partial) == ["billing_address.province_code", "billing_address.zip"]


def test_rule_22_the_reason_is_something_a_merchant_can_act_on() -> None:
    reason = describe_problems(["email", "billing_address.zip"])
    assert "missing: email, billing address postal code" in reason
    assert "Shopify" in reason


def test_rule_23_an_order_without_customer_uses_the_default_customer() -> None:
    assert uses_default_customer(order(None), PosKind.HEARTLAND) is True
    assert uses_default_customer(order(None, source="pos"), "heartland") is True


def test_rule_23_a_shopify_pos_order_with_incomplete_customer_uses_the_default_customer() -> None:
    assert uses_default_customer(order(NO_ADDRESS, source="pos"), PosKind.HEARTLAND) is True
    assert uses_default_customer(order(COMPLETE, source="POS"), PosKind.HEARTLAND) is False


def test_rule_23_never_for_a_web_customer_lacking_an_address() -> None:
    assert uses_default_customer(order(NO_ADDRESS, source="web"), PosKind.HEARTLAND) is False
    assert create_problems(NO_ADDRESS)  # that sync fails under rule 22 instead


def test_rule_23_the_orders_own_email_and_address_complete_a_pos_order_customer() -> None:
    bare = Customer(first_name="Al")
    assert uses_default_customer(order(bare, source="pos", email="al@example.com", billing_address=FULL),
                                 PosKind.HEARTLAND) is False


@pytest.mark.parametrize("kind", [PosKind.LIGHTSPEED_R, PosKind.LIGHTSPEED_X])
def test_rule_23_only_heartland_has_a_default_customer(kind: PosKind) -> None:
    assert uses_default_customer(order(None), kind) is False


def test_rule_24_custom_field_mapping_decides_what_heartland_holds() -> None:
    full = heartland_capabilities({"email_opt_in": "optin", "sms_opt_in": "sms", "birthday": "dob", "tags": "tags"})
    assert (full.phone_slot, full.has_tags, full.tags_field, full.sms_consent) == ("mobile", False, "custom:tags", True)
    assert {"birthday", "email_consent", "sms_consent", "tags", "shipping_address"} <= set(held_fields(full))
    bare = heartland_capabilities({})
    assert not {"birthday", "email_consent", "sms_consent", "tags"} & set(held_fields(bare))
    assert {"email", "phone", "billing_address", "shipping_address"} <= set(held_fields(bare))

