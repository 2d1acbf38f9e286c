"""Echo suppression (SPEC rule 5): possync's own writes coming back are recognised, by one function."""

from __future__ import annotations

import inspect
from datetime import UTC, date, datetime

from possync.models.customer import Address, Consent, ConsentState, Customer
from possync.models.tables import CustomerLink
from possync.tasks import poll, steps
from possync.tasks.rules import echo

WRITTEN = Customer(first_name="Jane", email="Jane@Example.com", phone="6135551212", tags=("Shopify", "acme"),
                   email_consent=Consent(ConsentState.SUBSCRIBED, datetime(2025, 1, 1, tzinfo=UTC)))


def link(pos: Customer | None = None, shopify: Customer | None = None) -> CustomerLink:
    return CustomerLink(pos_fingerprint=echo.pos_fingerprint(pos) if pos else None,
                        shopify_fingerprint=echo.shopify_fingerprint(shopify) if shopify else None)


def test_rule_5_which_fields_each_side_is_fingerprinted_over() -> None:
    synced = ("first_name", "last_name", "email", "phone", "birthday", "billing_address", "shipping_address",
              "email_consent", "sms_consent", "tags")
    assert synced == echo.POS_FIELDS
    assert synced == echo.SHOPIFY_FIELDS


def test_rule_5_an_edit_of_any_fingerprinted_field_is_not_an_echo_on_either_side() -> None:
    edits = {"first_name": "Janet", "last_name": "Roe", "email": "j@example.org", "phone": "6135550000",
             "birthday": date(1990, 1, 2), "billing_address": Address(city="Ottawa"),
             "shipping_address": Address(city="Hull"), "email_consent": Consent(ConsentState.UNSUBSCRIBED),
             "sms_consent": Consent(ConsentState.SUBSCRIBED), "tags": ("vip",)}
    assert set(edits) == set(echo.POS_FIELDS) | set(echo.SHOPIFY_FIELDS)
    for name, value in edits.items():
        edited = WRITTEN.replace(**{name: value})
        assert not echo.is_pos_echo(link(pos=WRITTEN), edited), name
        assert not echo.is_shopify_echo(link(shopify=WRITTEN), edited), name


def test_rule_5_the_same_record_coming_back_is_an_echo() -> None:
    # Read back: email case, tag order/case and consent timestamp do not matter.
    read_back = WRITTEN.replace(email="jane@example.com", tags=("ACME", "shopify"),
                                email_consent=Consent(ConsentState.SUBSCRIBED, datetime(2025, 2, 1, tzinfo=UTC)))
    assert echo.is_pos_echo(link(pos=WRITTEN), read_back)
    assert echo.is_shopify_echo(link(shopify=WRITTEN), read_back)


def test_rule_5_without_a_link_or_a_stored_fingerprint_nothing_is_an_echo() -> None:
    assert not echo.is_pos_echo(None, WRITTEN)
    assert not echo.is_shopify_echo(None, WRITTEN)
    assert not echo.is_pos_echo(link(shopify=WRITTEN), WRITTEN)
    assert not echo.is_shopify_echo(link(pos=WRITTEN), WRITTEN)


def test_rule_5_the_steps_and_the_poll_decide_echoes_through_this_module_only() -> None:
    for module in (steps, poll):
        source = inspect.getsource(module)
        assert "echo.is_pos_echo(" in source
        assert ".customer.fingerprint()" not in source
        assert "pos_fingerprint ==" not in source and "shopify_fingerprint ==" not in source
