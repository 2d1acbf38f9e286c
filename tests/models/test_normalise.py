"""SPEC rules 7 and 8: one email or phone, however typed, gives one key; different ones never do."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from possync.models.normalise import email_key, phone_key


def test_rule_7_emails_match_case_insensitively_after_trimming() -> None:
    assert email_key("  Jane.Doe@Example.COM ") == email_key("jane.doe@example.com") == "jane.doe@example.com"
    assert email_key("") is None
    assert email_key("not-an-email") is None


@pytest.mark.parametrize("typed", ["6135551212", "+16135551212", "(613)555-1212", "+1 613-555-1212", "1.613.555.1212"])
def test_rule_8_nanp_formats_are_one_number(typed: str) -> None:
    assert phone_key(typed, "US") == "6135551212"


def test_rule_8_other_countries_through_default_region() -> None:
    assert phone_key("020 7946 0958", "GB") == phone_key("+44 20 7946 0958", "GB") == "+442079460958"
    assert phone_key("+44 20 7946 0958", "US") == "+442079460958"


def test_phone_without_digits_has_no_key() -> None:
    assert phone_key("n/a") is None
    assert phone_key(None) is None


def _formattings(area: int, exchange: int, line: int) -> st.SearchStrategy[str]:
    a, e, ln = f"{area}", f"{exchange}", f"{line:04d}"
    return st.sampled_from(
        [
            f"{a}{e}{ln}",
            f"+1{a}{e}{ln}",
            f"1{a}{e}{ln}",
            f"({a}) {e}-{ln}",
            f"({a}){e}-{ln}",
            f"+1 {a}-{e}-{ln}",
            f"{a}.{e}.{ln}",
            f"1-{a}-{e}-{ln}",
            f" {a} {e} {ln} ",
        ]
    )


nanp = st.tuples(st.integers(201, 989), st.integers(200, 999), st.integers(0, 9999))


@given(nanp.flatmap(lambda n: st.tuples(st.just(n), _formattings(*n), _formattings(*n))))
def test_every_formatting_of_one_number_gives_the_same_key(case) -> None:  # type: ignore[no-untyped-def]
    (area, exchange, line), first, second = case
    assert phone_key(first) == phone_key(second) == f"{area}{exchange}{line:04d}"


@given(nanp, nanp)
def test_different_numbers_never_share_a_key(one, other) -> None:  # type: ignore[no-untyped-def]
    a, b = "{}{}{:04d}".format(*one), "{}{}{:04d}".format(*other)
    if a != b:
        assert phone_key(a) != phone_key(b)
