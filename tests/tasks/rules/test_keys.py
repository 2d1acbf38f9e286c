"""The fast phone key must give exactly `phone_key`'s answer (SPEC rule 8), or the index and the rules disagree."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from possync.models.normalise import phone_key
from possync.tasks.rules.keys import fast_phone_key, same_phone

REGIONS = ["US", "CA", "PR", "GB", "DE", "AU", "us"]
typed = st.text(alphabet="0123456789+()-. 1x", min_size=0, max_size=18)
nanp_like = st.builds(
    lambda prefix, digits, sep: prefix + sep.join([digits[:3], digits[3:6], digits[6:]]),
    st.sampled_from(["", "1", "+1", "+1 ", "1-", "(+1)", "+", "+44 ", "0"]),
    st.text(alphabet="0123456789", min_size=10, max_size=10),
    st.sampled_from(["", " ", "-", ".", ") ", "  "]),
)


@settings(max_examples=400, deadline=None)
@given(phone=st.one_of(typed, nanp_like), region=st.sampled_from(REGIONS))
def test_rule_8_fast_phone_key_agrees_with_phone_key(phone: str, region: str) -> None:
    assert fast_phone_key(phone, region) == phone_key(phone, region)


@pytest.mark.parametrize(
    "phone", ["6135551212", "+16135551212", "(613)555-1212", "+1 613-555-1212", "1.613.555.1212", "0135551212",
              "1135551212", "+1 013 555 1212", "613-555-1212 x12", "+44 20 7946 0958", "", None, "n/a"]
)
@pytest.mark.parametrize("region", ["US", "GB"])
def test_rule_8_fast_phone_key_on_known_shapes(phone: str | None, region: str) -> None:
    assert fast_phone_key(phone, region) == phone_key(phone, region)


def test_rule_8_same_phone() -> None:
    assert same_phone("(613) 555-1212", "+1 613 555 1212", "US")
    assert same_phone(None, None, "US")
    assert not same_phone("6135551212", "6135551213", "US")
    assert not same_phone("6135551212", None, "US")
    assert same_phone("020 7946 0958", "+44 20 7946 0958", "GB")
