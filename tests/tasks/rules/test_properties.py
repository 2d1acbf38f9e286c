"""Property tests of the rules (SPEC rules 8, 19, 21, 32): idempotence, phone formats, lossless mapping."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from possync.adapters.base import Capabilities
from possync.models.customer import Address, Consent, ConsentState, Customer
from possync.models.normalise import phone_key
from possync.models.shopify_values import ShopifyCustomer, ShopifyOrder
from possync.tasks.rules.consent import pos_flag_consent, pos_opt_in
from possync.tasks.rules.diff import diff_for_update
from possync.tasks.rules.mapping import desired_pos_customer, held_fields
from tests.tasks.rules.support import ALL_POS, from_held_values, held_values

CAPS = list(ALL_POS.values())
words = st.text(alphabet="abcdefgh XYZ-'éñ", min_size=0, max_size=12)
maybe_words = st.none() | words
stamps = st.none() | st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2030, 1, 1), timezones=st.just(UTC)
)
consents = st.none() | st.builds(Consent, st.sampled_from(list(ConsentState)), stamps)
addresses = st.none() | st.builds(Address, maybe_words, maybe_words, maybe_words, maybe_words, maybe_words,
                                  maybe_words, maybe_words)
emails = st.none() | st.builds(lambda local, dom, pad: f"{pad}{local}@{dom}.example{pad}",
                                st.text(alphabet="abcXYZ.", min_size=1, max_size=8),
                                st.text(alphabet="abcxyz", min_size=1, max_size=6), st.sampled_from(["", " "]))
nanp = st.tuples(st.integers(201, 989), st.integers(200, 999), st.integers(0, 9999))
FORMATS = ["{a}{e}{l}", "+1{a}{e}{l}", "1{a}{e}{l}", "({a}) {e}-{l}", "({a}){e}-{l}", "+1 {a}-{e}-{l}", "{a}.{e}.{l}",
           "1-{a}-{e}-{l}", " {a} {e} {l} "]


def formatted(number: tuple[int, int, int], fmt: str) -> str:
    a, e, line = number
    return fmt.format(a=a, e=e, l=f"{line:04d}")


phones = st.none() | st.builds(formatted, nanp, st.sampled_from(FORMATS))
tag_tuples = st.lists(st.sampled_from(["Shopify", "shopify", "VIP", "vip", "acme", "Wholesale"]), max_size=4).map(tuple)
customers = st.builds(
    Customer,
    first_name=maybe_words, last_name=maybe_words, email=emails, phone=phones,
    birthday=st.none() | st.dates(), billing_address=addresses, shipping_address=addresses,
    email_consent=consents, sms_consent=consents, tags=tag_tuples,
)


def pos_reading(customer: Customer, caps: Capabilities) -> Customer:
    """What the POS holds and reads back: only its fields, consent as a dated flag."""
    fields: dict[str, Any] = {}
    for name in held_fields(caps):
        value = getattr(customer, name)
        if name.endswith("_consent") and value is not None:
            value = pos_flag_consent(pos_opt_in(value.state), value.updated_at)
        fields[name] = value
    return Customer(**fields)


def apply(current: Customer, changes: dict[str, Any], caps: Capabilities) -> Customer:
    """A POS applying an update: the changed fields replaced, then read back."""
    return pos_reading(current.replace(**changes), caps)


@settings(max_examples=100, deadline=None)
@given(desired=customers, current=customers, caps=st.sampled_from(CAPS), update_names=st.booleans())
def test_rule_32_applying_the_same_customer_twice_writes_nothing_the_second_time(
    desired: Customer, current: Customer, caps: Capabilities, update_names: bool
) -> None:
    reading = pos_reading(current, caps)
    changes = diff_for_update(desired, reading, update_names=update_names, capabilities=caps)
    assert set(changes) <= set(held_fields(caps))
    after = apply(reading, changes, caps)
    assert diff_for_update(desired, after, update_names=update_names, capabilities=caps) == {}


@settings(max_examples=60, deadline=None)
@given(desired=customers, current=customers, caps=st.sampled_from(CAPS))
def test_rule_21_a_diff_never_writes_an_empty_value(desired: Customer, current: Customer, caps: Capabilities) -> None:
    changes = diff_for_update(desired, pos_reading(current, caps), update_names=True, capabilities=caps)
    for value in changes.values():
        assert value not in (None, "", ())
        if isinstance(value, str):
            assert value.strip()
        if isinstance(value, Address):
            assert not value.is_empty()


@settings(max_examples=200, deadline=None)
@given(number=nanp, fmt_a=st.sampled_from(FORMATS), fmt_b=st.sampled_from(FORMATS), caps=st.sampled_from(CAPS))
def test_rule_8_any_formatting_of_a_phone_matches_its_canonical_form(
    number: tuple[int, int, int], fmt_a: str, fmt_b: str, caps: Capabilities
) -> None:
    a, b = formatted(number, fmt_a), formatted(number, fmt_b)
    canonical = f"{number[0]}{number[1]}{number[2]:04d}"
    assert phone_key(a) == phone_key(b) == canonical
    diff = diff_for_update(Customer(phone=a), Customer(phone=b), update_names=True, capabilities=caps)
    assert "phone" not in diff


accounts = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-_ ", min_size=0, max_size=16)


@settings(max_examples=80, deadline=None)
@given(source=customers, ship=addresses, account=accounts, caps=st.sampled_from(CAPS), with_order=st.booleans())
def test_rule_14_mapping_round_trips_through_what_the_pos_holds(
    source: Customer, ship: Address | None, account: str, caps: Capabilities, with_order: bool
) -> None:
    shopify = ShopifyCustomer(id="1", customer=source)
    order = ShopifyOrder(id="2", customer=shopify, shipping_address=ship) if with_order else None
    desired = desired_pos_customer(shopify, order=order, account_name=account, capabilities=caps)
    back = from_held_values(held_values(desired, caps), caps)
    for name in held_fields(caps):
        want, got = getattr(desired, name), getattr(back, name)
        if name.endswith("_consent"):
            assert (want is None) == (got is None)
            if want is not None:
                assert pos_opt_in(want.state) == pos_opt_in(got.state)
        else:
            assert want == got, name
    for name in set(Customer.SYNCED_FIELDS) - set(held_fields(caps)):
        assert getattr(desired, name) in (None, ()), name


@pytest.mark.parametrize("caps", CAPS, ids=list(ALL_POS))
def test_rule_19_a_freshly_created_customer_needs_no_update(caps: Capabilities) -> None:
    source = Customer(first_name="Jane", email="jane@example.com", phone="(613) 555-1212",
                      email_consent=Consent(ConsentState.SUBSCRIBED, datetime(2025, 1, 1, tzinfo=UTC)))
    desired = desired_pos_customer(ShopifyCustomer("1", source), order=None, account_name="acme", capabilities=caps)
    created = from_held_values(held_values(desired, caps), caps)
    assert diff_for_update(desired, created, update_names=True, capabilities=caps) == {}
