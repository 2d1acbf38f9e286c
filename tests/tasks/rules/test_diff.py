"""Updating an existing POS customer (SPEC rules 19 to 21, 25): only real differences are written."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from possync.adapters.base import Capabilities
from possync.models.customer import Address, Consent, ConsentState, Customer
from possync.tasks.rules.consent import pos_flag_consent
from possync.tasks.rules.diff import diff_for_update, same_address
from tests.tasks.rules.support import HEARTLAND, R_SERIES, X_SERIES

T0 = datetime(2025, 1, 1, tzinfo=UTC)
HOME = Address("1 Main St", "Apt 4", "Ottawa", "ON", "K1A 0B1", "CA")
DESIRED = Customer(
    first_name="Jane", last_name="Doe", email="jane@example.com", phone="+1 613-555-1212", birthday=date(1990, 5, 17),
    billing_address=HOME, shipping_address=HOME, email_consent=Consent(ConsentState.SUBSCRIBED, T0),
    sms_consent=Consent(ConsentState.NOT_SUBSCRIBED, T0), tags=("Shopify", "acmestore"),
)
# The same customer as a POS stores it: other spelling, other phone format, flags, the merchant's own tags.
STORED = Customer(
    first_name="Jane", last_name="Doe", email="  JANE@Example.COM", phone="(613) 555-1212", birthday=date(1990, 5, 17),
    billing_address=Address("1  main st", "APT 4", "ottawa", "on", "k1a 0b1", "ca"), shipping_address=HOME,
    email_consent=pos_flag_consent(True, T0), sms_consent=pos_flag_consent(False, T0),
    tags=("VIP", "shopify", "ACMESTORE"),
)


def diff(desired: Customer, current: Customer, caps: Capabilities = X_SERIES, update_names: bool = True) -> dict:
    return diff_for_update(desired, current, update_names=update_names, capabilities=caps)


@pytest.mark.parametrize("caps", [R_SERIES, X_SERIES, HEARTLAND], ids=["r", "x", "heartland"])
def test_rule_19_matching_data_causes_no_write(caps: Capabilities) -> None:
    assert diff(DESIRED, STORED, caps) == {}


def test_rule_19_only_differing_fields_are_written() -> None:
    moved = Address("9 Elm St", None, "Ottawa", "ON", "K2P 1L4", "CA")
    changes = diff(DESIRED.replace(last_name="Smith", billing_address=moved, birthday=date(1990, 5, 18)), STORED)
    assert changes == {"last_name": "Smith", "billing_address": moved, "birthday": date(1990, 5, 18)}


def test_rule_19_email_and_phone_changes_are_detected() -> None:
    changes = diff(DESIRED.replace(email="jane@new.example", phone="613-555-9999"), STORED)
    assert changes == {"email": "jane@new.example", "phone": "613-555-9999"}


def test_rule_19_phone_compare_uses_the_tenant_region() -> None:
    uk = DESIRED.replace(phone="+44 20 7946 0958")
    stored = STORED.replace(phone="020 7946 0958")
    assert "phone" in diff_for_update(uk, stored, update_names=True, capabilities=X_SERIES, region="US")
    assert diff_for_update(uk, stored, update_names=True, capabilities=X_SERIES, region="GB") == {}


def test_rule_19_tags_only_add_ours_and_keep_the_merchants() -> None:
    changes = diff(DESIRED, STORED.replace(tags=("VIP", "Wholesale")), R_SERIES)
    assert changes == {"tags": ("VIP", "Wholesale", "Shopify", "acmestore")}
    assert diff(DESIRED.replace(tags=()), STORED.replace(tags=("VIP",)), R_SERIES) == {}


def test_rule_20_update_names_false_never_changes_names() -> None:
    renamed = DESIRED.replace(first_name="Janet", last_name="Smith")
    assert diff(renamed, STORED, update_names=False) == {}
    assert diff(renamed, STORED, update_names=True) == {"first_name": "Janet", "last_name": "Smith"}
    assert diff(renamed, STORED.replace(first_name=None), update_names=False) == {}  # not even to fill a blank


def test_rule_21_empty_shopify_values_never_blank_pos_values() -> None:
    empty = Customer(first_name="", last_name="  ", email=None, phone=None, billing_address=Address(), tags=())
    assert diff(empty, STORED) == {}


def test_rule_21_an_address_lacking_a_field_does_not_blank_it_but_a_move_writes_the_whole_address() -> None:
    no_apt = Address("1 Main St", None, "Ottawa", "ON", "K1A 0B1", "CA")
    assert diff(DESIRED.replace(billing_address=no_apt), STORED) == {}
    moved = Address("2 Side St", None, "Ottawa", "ON", "K1A 0B1", "CA")
    assert diff(DESIRED.replace(billing_address=moved), STORED) == {"billing_address": moved}
    assert same_address(no_apt, HOME) and not same_address(HOME, no_apt)


def test_rule_19_fields_the_pos_cannot_hold_never_appear() -> None:
    current = STORED.replace(shipping_address=None, sms_consent=None, tags=())
    want = DESIRED.replace(shipping_address=Address("9 Dock Rd", None, "Halifax", "NS", "B3H 1A1", "CA"))
    assert set(diff(want, current, R_SERIES)) == {"sms_consent", "tags"}  # R-Series: no shipping address
    assert set(diff(want, current, HEARTLAND)) == {"shipping_address", "tags"}  # no SMS mapping on this tenant
    assert set(diff(want, current, X_SERIES)) == {"shipping_address", "sms_consent", "tags"}


def test_rule_19_a_pos_without_the_value_gets_it() -> None:
    assert diff(DESIRED, Customer(), R_SERIES) == {
        "first_name": "Jane", "last_name": "Doe", "email": "jane@example.com", "phone": "+1 613-555-1212",
        "birthday": date(1990, 5, 17), "billing_address": HOME, "email_consent": DESIRED.email_consent,
        "sms_consent": DESIRED.sms_consent, "tags": ("Shopify", "acmestore"),
    }


def test_rule_25_consent_goes_through_merge_consent() -> None:
    later = T0 + timedelta(days=2)
    unsub = DESIRED.replace(email_consent=Consent(ConsentState.UNSUBSCRIBED, later))
    assert diff(unsub, STORED) == {"email_consent": Consent(ConsentState.UNSUBSCRIBED, later)}
    stale_sub = DESIRED.replace(sms_consent=Consent(ConsentState.SUBSCRIBED, T0 - timedelta(days=1)))
    assert diff(stale_sub, STORED) == {}  # rule 26: older data never re-subscribes


def test_rules_20_21_a_skipped_field_never_stops_the_fields_after_it() -> None:
    """Kept names (rule 20), a blank value (rule 21) and agreeing tags are skipped, each field on its own."""
    moved = Address("9 Elm St", None, "Kanata", "ON", "K2K 1A1", "CA")
    changed = Customer(first_name="Janet", last_name="Smith", email="jane.roe@example.com", phone=None,
                       birthday=date(1991, 6, 1), billing_address=moved, shipping_address=moved,
                       tags=("shopify",), sms_consent=Consent(ConsentState.SUBSCRIBED, T0 + timedelta(days=1)))
    assert diff(changed, STORED, update_names=False) == {
        "email": "jane.roe@example.com", "birthday": date(1991, 6, 1), "billing_address": moved,
        "shipping_address": moved, "sms_consent": Consent(ConsentState.SUBSCRIBED, T0 + timedelta(days=1))}


def test_rule_19_an_email_that_is_no_address_is_compared_as_typed() -> None:
    """A POS may hold anything in its email field: the same text (up to case and spacing) is no change."""
    assert diff(DESIRED.replace(email="Jane at Example"), STORED.replace(email=" jane  at example")) == {}
    assert diff(DESIRED.replace(email="jane at example"), STORED.replace(email="jane@example")) == {
        "email": "jane at example"}


def test_rule_19_the_shipping_address_is_compared_like_the_billing_address() -> None:
    restyled = Address("1  main st", "APT 4", "ottawa", "on", "k1a 0b1", "ca")
    assert diff(DESIRED, STORED.replace(shipping_address=restyled)) == {}
