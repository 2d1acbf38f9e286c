from __future__ import annotations

from possync.tasks.console.masking import mask_customer, mask_email, mask_phone
from tests.tasks.console.support import customer_json


def test_masks_keep_enough_to_tell_customers_apart() -> None:
    assert mask_email("jane@example.com") == "j***@example.com"
    assert mask_email("nonsense") == "***"
    assert mask_phone("+1 613-555-1212") == "+• •••-•••-1212"
    assert mask_email(None) is None and mask_phone("") == ""


def test_a_customer_is_masked_and_its_address_hidden() -> None:
    customer = {**customer_json("jane@example.com", "+16135551212"), "billing_address": {"city": "Ottawa"},
                "email_consent": {"state": "subscribed"}}
    shown = mask_customer(customer)
    assert shown["email"] == "j***@example.com" and shown["first_name"] == "J***" and shown["last_name"] == "D***"
    assert shown["billing_address"] == "hidden" and shown["email_consent"] == {"state": "subscribed"}
    assert "jane" not in str(shown) and "Ottawa" not in str(shown)
