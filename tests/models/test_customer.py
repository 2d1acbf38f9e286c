"""The canonical customer's JSON form: every field, JSON-safe, and back again unchanged."""

from __future__ import annotations

import dataclasses
import enum
import json
from datetime import UTC, date, datetime
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from possync.models.customer import Address, Consent, ConsentState, Customer

text = st.none() | st.text(max_size=12)
addresses = st.none() | st.builds(Address, *(text for _ in dataclasses.fields(Address)))
consents = st.none() | st.builds(Consent, st.sampled_from(list(ConsentState)),
                                 st.none() | st.datetimes(timezones=st.just(UTC)))
customers = st.builds(Customer, text, text, text, text, st.none() | st.dates(), addresses, addresses, consents,
                      consents, st.lists(st.text(max_size=8), max_size=3).map(tuple))


def _reference(value: Any) -> Any:
    """The generic conversion the hand-written `to_json` replaced."""
    if isinstance(value, dict):
        return {k: _reference(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_reference(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    return value


@given(customers)
def test_to_json_holds_every_field_as_the_generic_conversion_does(customer: Customer) -> None:
    assert customer.to_json() == _reference(dataclasses.asdict(customer))


@given(customers)
def test_to_json_is_json_safe_and_round_trips(customer: Customer) -> None:
    data = json.loads(json.dumps(customer.to_json()))
    assert Customer.from_json(data) == customer


def test_a_full_customer() -> None:
    customer = Customer("Ada", "Lovelace", "ada@example.com", "+16135550100", date(1990, 12, 10),
                        Address("1 Main St", None, "Ottawa", "ON", "K2P 1L4", "CA", None), None,
                        Consent(ConsentState.SUBSCRIBED, datetime(2026, 1, 2, 3, 4, tzinfo=UTC)), None, ("vip",))
    assert customer.to_json()["birthday"] == "1990-12-10"
    assert customer.to_json()["email_consent"] == {"state": "subscribed", "updated_at": "2026-01-02T03:04:00+00:00"}
    assert customer.to_json()["billing_address"]["zip"] == "K2P 1L4"
