"""Rule 52: US military addresses are recognised, put in their required form, and checked field by field."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from possync.models import military
from possync.models.customer import Address, Customer

STATE_SPELLINGS = {
    "AA": ["AA", "aa", "Armed Forces Americas", "armed forces  americas"],
    "AE": ["AE", "ae", "Armed Forces Europe", "ARMED FORCES EUROPE", "Armed Forces Middle East", "Armed Forces Canada"],
    "AP": ["AP", "Ap", "Armed Forces Pacific", "armed-forces pacific"],
}
ZIPS = {"AA": st.integers(34000, 34099), "AE": st.integers(9000, 9999), "AP": st.integers(96200, 96699)}


def _spell_city(city: str, how: int) -> str:
    return [city, city.lower(), city.title(), ".".join(city) + ".", f" {city.lower()} "][how]


@st.composite
def typed_military(draw: st.DrawFn) -> tuple[Address, str, str]:
    """A well-formed military address as a shopper might type it, with its city and state codes."""
    state = draw(st.sampled_from(sorted(STATE_SPELLINGS)))
    city = draw(st.sampled_from(sorted(military.CITIES)))
    kind = draw(st.sampled_from(["PSC", "UNIT", "CMR", "psc", "Unit"]))
    street = f"{kind} {draw(st.integers(1, 9999))}  box {draw(st.integers(1, 9999))}"
    address = Address(
        address1=street,
        city=_spell_city(city, draw(st.integers(0, 4))),
        province_code=draw(st.sampled_from(STATE_SPELLINGS[state])),
        zip=f"{draw(ZIPS[state]):05d}",
        country_code=draw(st.sampled_from(["US", "us", "DE", "JP", None])),
    )
    return address, city, state


@given(typed_military())
def test_any_spelling_becomes_the_required_form(typed: tuple[Address, str, str]) -> None:
    address, city, state = typed
    assert military.is_military(address)
    normal = military.normalise(address)
    assert normal is not None
    assert (normal.city, normal.province_code, normal.country_code) == (city, state, "US")
    assert normal.address1 == normal.address1.upper() and "  " not in normal.address1
    assert military.problems(normal) == []
    assert military.normalise(normal) == normal  # idempotent


@given(st.builds(Address, address1=st.text(max_size=10), city=st.sampled_from(["Ottawa", "Boston", "Apopka", None]),
                 province_code=st.sampled_from(["ON", "MA", "FL", None]), zip=st.text(max_size=6),
                 country_code=st.sampled_from(["CA", "US", None])))
def test_other_addresses_pass_untouched(address: Address) -> None:
    assert not military.is_military(address)
    assert military.normalise(address) is address
    assert military.problems(address) == []


@pytest.mark.parametrize(("address", "fields"), [
    (Address("123 Main St", None, "APO", "AE", "09012", "US"), ["address1"]),
    (Address("UNIT 2050 BOX 4190", None, "Ramstein", "AE", "09012", "US"), ["city"]),
    (Address("PSC 3 BOX 123", None, "FPO", "NY", "09012", "US"), ["province_code"]),  # the city says military
    (Address("CMR 480 BOX 1", None, "APO", "AP", "09012", "US"), ["zip"]),
    (Address("CMR 480 BOX 1", None, "APO", "AE", "9012", "US"), ["zip"]),
    (Address("UNIT 1 BOX 2", None, "DPO", "AA", "34001", "DE"), ["country_code"]),
])
def test_a_broken_form_names_the_field(address: Address, fields: list[str]) -> None:
    assert military.problems(address) == fields


def test_the_customer_problems_name_the_slot_and_the_reason_names_the_field() -> None:
    customer = Customer(billing_address=Address("123 Main St", None, "apo", "Armed Forces Europe", "09012", "DE"))
    normal = military.normalise(customer.billing_address)
    assert normal == Address("123 MAIN ST", None, "APO", "AE", "09012", "US")
    found = military.customer_problems(customer.replace(billing_address=normal))
    assert found == ["billing_address.address1"]
    assert "billing address street line (PSC, UNIT or CMR number and BOX number)" in military.describe(found)
