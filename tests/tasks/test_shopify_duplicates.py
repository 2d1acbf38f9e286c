"""Rule 51's consent on a merge: a subscription either side had is kept, unless a later unsubscribe says no."""

from __future__ import annotations

from datetime import UTC, datetime

from possync.models.customer import Consent, ConsentState
from possync.tasks.shopify_duplicates import DuplicateGroup, kept_consent

T1, T2 = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 3, 1, tzinfo=UTC)
YES, NO, NEVER = ConsentState.SUBSCRIBED, ConsentState.UNSUBSCRIBED, ConsentState.NOT_SUBSCRIBED


def test_a_subscription_on_either_side_is_kept() -> None:
    for one, two in [(Consent(YES, T1), Consent(NEVER, T2)), (None, Consent(YES, T1)), (Consent(YES), None)]:
        kept = kept_consent(one, two)
        assert kept is not None and kept.state is YES


def test_nothing_is_kept_without_a_subscription_or_after_a_later_unsubscribe() -> None:
    assert kept_consent(Consent(NEVER, T1), Consent(NO, T2)) is None
    assert kept_consent(None, None) is None
    assert kept_consent(Consent(YES, T1), Consent(NO, T2)) is None  # rule 26: the later no wins
    assert kept_consent(Consent(YES, T2), Consent(NO, T1)) is not None


def test_a_group_is_mergeable_only_without_blockers_and_limits() -> None:
    assert DuplicateGroup(["1", "2"], "email", [], []).mergeable
    assert not DuplicateGroup(["1", "2"], "email", ["GIFT_CARDS"], []).mergeable
    assert not DuplicateGroup(["1", "2"], "phone", [], ["more than 250 merged tags"]).to_json()["mergeable"]
