"""Marketing consent (SPEC rules 25 and 26): the state table, newest wins, unsubscribes stick."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from possync.models.customer import Consent, ConsentState
from possync.tasks.rules.consent import POS_OPT_IN, consent_for_shopify, merge_consent, pos_flag_consent, pos_opt_in

T0 = datetime(2025, 1, 1, tzinfo=UTC)
LATER = T0 + timedelta(days=1)
S = ConsentState


@pytest.mark.parametrize(
    ("state", "opted_in"),
    [
        (S.SUBSCRIBED, True),
        (S.PENDING, False),
        (S.NOT_SUBSCRIBED, False),
        (S.UNSUBSCRIBED, False),
        (S.REDACTED, False),
        (S.INVALID, False),
    ],
)
def test_rule_26_each_shopify_state_maps_to_an_explicit_pos_flag(state: ConsentState, opted_in: bool) -> None:
    assert pos_opt_in(state) is opted_in
    assert pos_opt_in(state.value) is opted_in


def test_rule_26_the_table_covers_every_state() -> None:
    assert set(POS_OPT_IN) == set(ConsentState)


def test_rule_26_new_subscription_reaches_a_pos_that_has_none() -> None:
    incoming = Consent(S.SUBSCRIBED, T0)
    assert merge_consent(incoming, None) == incoming
    assert merge_consent(None, pos_flag_consent(True, T0)) is None  # rule 21: nothing never blanks


def test_rule_26_equal_flags_need_no_write_even_if_states_differ() -> None:
    assert merge_consent(Consent(S.NOT_SUBSCRIBED, LATER), pos_flag_consent(False, T0)) is None
    assert merge_consent(Consent(S.SUBSCRIBED, LATER), pos_flag_consent(True, T0)) is None


def test_rule_26_newest_wins() -> None:
    assert merge_consent(Consent(S.SUBSCRIBED, LATER), pos_flag_consent(False, T0)) == Consent(S.SUBSCRIBED, LATER)
    assert merge_consent(Consent(S.UNSUBSCRIBED, LATER), pos_flag_consent(True, T0)) == Consent(S.UNSUBSCRIBED, LATER)
    assert merge_consent(Consent(S.UNSUBSCRIBED, T0), pos_flag_consent(True, LATER)) is None


def test_rule_26_an_unsubscribe_is_never_undone_by_older_or_undated_data() -> None:
    pos_no = pos_flag_consent(False, LATER)
    assert merge_consent(Consent(S.SUBSCRIBED, T0), pos_no) is None  # older
    assert merge_consent(Consent(S.SUBSCRIBED, LATER), pos_no) is None  # same instant: not newer
    assert merge_consent(Consent(S.SUBSCRIBED, None), pos_no) is None  # undated
    assert merge_consent(Consent(S.SUBSCRIBED, LATER), pos_flag_consent(False, None)) is None  # undated opt-out


def test_rule_26_an_undated_unsubscribe_still_opts_out() -> None:
    assert merge_consent(Consent(S.UNSUBSCRIBED), pos_flag_consent(True, T0)) == Consent(S.UNSUBSCRIBED)


def test_rule_26_naive_and_aware_stamps_compare() -> None:
    naive_later = datetime(2025, 1, 2)
    assert merge_consent(Consent(S.SUBSCRIBED, naive_later), pos_flag_consent(False, T0)) is not None


def test_rule_26_never_subscribed_is_no_decision_a_dated_subscribe_replaces() -> None:
    assert merge_consent(Consent(S.SUBSCRIBED, T0), Consent(S.NOT_SUBSCRIBED)) == Consent(S.SUBSCRIBED, T0)


def test_rule_2_pos_consent_to_shopify_newest_wins_and_unsubscribes_stick() -> None:
    assert consent_for_shopify(pos_flag_consent(True, LATER), Consent(S.NOT_SUBSCRIBED, T0)) == Consent(
        S.SUBSCRIBED, LATER
    )
    assert consent_for_shopify(pos_flag_consent(True, T0), Consent(S.UNSUBSCRIBED, LATER)) is None
    assert consent_for_shopify(pos_flag_consent(True, None), Consent(S.UNSUBSCRIBED, T0)) is None
    assert consent_for_shopify(pos_flag_consent(False, LATER), Consent(S.SUBSCRIBED, T0)) == Consent(
        S.UNSUBSCRIBED, LATER
    )
    assert consent_for_shopify(pos_flag_consent(False, T0), Consent(S.SUBSCRIBED, LATER)) is None


def test_rule_2_pos_consent_to_shopify_no_change_cases() -> None:
    assert consent_for_shopify(None, Consent(S.SUBSCRIBED)) is None
    assert consent_for_shopify(pos_flag_consent(False, T0), Consent(S.NOT_SUBSCRIBED)) is None  # both "no"
    assert consent_for_shopify(pos_flag_consent(False, T0), None) is None  # Shopify's default already says no
    assert consent_for_shopify(pos_flag_consent(True, T0), None) == Consent(S.SUBSCRIBED, T0)


@pytest.mark.parametrize("protected", [S.REDACTED, S.INVALID])
def test_rule_26_redacted_and_invalid_are_never_overwritten_from_a_pos(protected: ConsentState) -> None:
    assert consent_for_shopify(pos_flag_consent(True, LATER), Consent(protected, T0)) is None


def test_rule_26_a_tie_of_consent_updated_at_opts_out_never_in() -> None:
    """Same `consent_updated_at` on both sides: neither is provably newer, so the "no" wins either way round."""
    assert merge_consent(Consent(S.UNSUBSCRIBED, T0), pos_flag_consent(True, T0)) == Consent(S.UNSUBSCRIBED, T0)
    assert merge_consent(Consent(S.SUBSCRIBED, T0), pos_flag_consent(False, T0)) is None
    assert consent_for_shopify(pos_flag_consent(False, T0), Consent(S.SUBSCRIBED, T0)) == Consent(S.UNSUBSCRIBED, T0)
    assert consent_for_shopify(pos_flag_consent(True, T0), Consent(S.UNSUBSCRIBED, T0)) is None


def test_rule_26_stamps_are_compared_as_instants_whatever_their_offset() -> None:
    """10:00 in Ottawa (15:00 UTC) is newer than 12:00 UTC; a naive stamp is taken as UTC."""
    ottawa = timezone(timedelta(hours=-5))
    subscribed = Consent(S.SUBSCRIBED, datetime(2025, 1, 1, 10, tzinfo=ottawa))
    assert merge_consent(subscribed, pos_flag_consent(False, datetime(2025, 1, 1, 12, tzinfo=UTC))) == subscribed
    assert merge_consent(subscribed, pos_flag_consent(False, datetime(2025, 1, 1, 16))) is None
