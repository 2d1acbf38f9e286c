"""Echo suppression (SPEC rule 5): possync's own writes coming back are recognised."""

from __future__ import annotations

from datetime import UTC, datetime

from models.customer import Consent, ConsentState, Customer
from tasks.rules.echo import SHOPIFY_FIELDS, fingerprint, is_echo, pos_fields
from tests.tasks.rules.support import R_SERIES, X_SERIES

WRITTEN = Customer(first_name="Jane", email="Jane@Example.com", phone="6135551212", tags=("Shopify", "acme"),
                   email_consent=Consent(ConsentState.SUBSCRIBED, datetime(2025, 1, 1, tzinfo=UTC)))


def test_rule_5_the_same_record_coming_back_is_an_echo() -> None:
    fields = pos_fields(R_SERIES)
    stored = fingerprint(WRITTEN, fields)
    # The poll reads it back: email case, tag order/case and consent timestamp do not matter.
    read_back = WRITTEN.replace(email="jane@example.com", tags=("ACME", "shopify"),
                                email_consent=Consent(ConsentState.SUBSCRIBED, datetime(2025, 2, 1, tzinfo=UTC)))
    assert is_echo(read_back, stored, fields)


def test_rule_5_a_merchant_edit_is_not_an_echo() -> None:
    fields = pos_fields(R_SERIES)
    stored = fingerprint(WRITTEN, fields)
    assert not is_echo(WRITTEN.replace(first_name="Janet"), stored, fields)
    assert not is_echo(WRITTEN.replace(email_consent=Consent(ConsentState.UNSUBSCRIBED)), stored, fields)


def test_rule_5_without_a_stored_fingerprint_nothing_is_an_echo() -> None:
    assert not is_echo(WRITTEN, None)


def test_rule_5_fields_the_side_does_not_hold_do_not_break_echo_detection() -> None:
    stored = fingerprint(WRITTEN, SHOPIFY_FIELDS)
    assert is_echo(WRITTEN.replace(tags=("other",), birthday=None), stored, SHOPIFY_FIELDS)
    assert "shipping_address" not in pos_fields(R_SERIES) and "shipping_address" in pos_fields(X_SERIES)
