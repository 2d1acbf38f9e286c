"""Marketing consent between Shopify states and POS opt-in flags (SPEC rules 25 and 26).

Shopify keeps six consent states per channel; every POS keeps one boolean per channel (R-Series
`Contact.noEmail`/`noPhone` opt-outs, X-Series `do_not_email`/`enable_promotional_sms`, Heartland a
merchant custom field). `POS_OPT_IN` is the one place that says which state becomes which flag.

Conflicts are settled by time: the newest `updated_at` wins. One asymmetry protects customers: data
that would turn a "no" into a "yes" must be dated and provably newer; undated or older data never
re-subscribes anyone. Turning a "yes" into a "no" only needs the other side not to be provably newer.

Adapters should stamp the consent they read with the POS record's `updated_at` (a POS flag has no
date of its own); an undated POS opt-out can then still be overridden by a newer Shopify subscribe.
"""

from __future__ import annotations

from datetime import UTC, datetime

from possync.models.customer import Consent, ConsentState

# Shopify consent state -> the POS opt-in flag. Only a confirmed subscription is an opt-in: `pending`
# is an unconfirmed double opt-in; `redacted` (privacy erasure) and `invalid` (undeliverable) are never
# marketed to.
POS_OPT_IN: dict[str, bool] = {  # keyed by ConsentState, a StrEnum: plain strings find it too
    ConsentState.SUBSCRIBED: True,
    ConsentState.PENDING: False,
    ConsentState.NOT_SUBSCRIBED: False,
    ConsentState.UNSUBSCRIBED: False,
    ConsentState.REDACTED: False,
    ConsentState.INVALID: False,
}

# Shopify states a POS reading may never overwrite: an erasure and an address Shopify found invalid.
SHOPIFY_PROTECTED = frozenset({ConsentState.REDACTED, ConsentState.INVALID})


def pos_opt_in(state: ConsentState | str) -> bool:
    """The POS flag for a Shopify state (opted in or not); plain strings work too (a StrEnum hashes as its value)."""
    return POS_OPT_IN[state]


def pos_flag_consent(opted_in: bool, updated_at: datetime | None = None) -> Consent:
    """A POS flag read back in Shopify terms: an explicit opt-in or opt-out."""
    return Consent.from_flag(opted_in, updated_at)


def _utc(stamp: datetime) -> datetime:
    """Naive stamps are taken as UTC so naive and aware values can be compared."""
    return stamp.replace(tzinfo=UTC) if stamp.tzinfo is None else stamp


def _provably_newer(a: Consent, b: Consent) -> bool:
    """True only when both are dated and `a` is strictly newer than `b`."""
    return a.updated_at is not None and b.updated_at is not None and _utc(a.updated_at) > _utc(b.updated_at)


def _yes_may_replace_no(yes: Consent, no: Consent) -> bool:
    """A subscribe replaces a "no" only when it is dated and newer (rule 26: never by older/undated data)."""
    if yes.updated_at is None:
        return False
    if no.updated_at is None:
        # An undated explicit unsubscribe is kept; an undated "never subscribed" is no decision at all.
        return no.state is not ConsentState.UNSUBSCRIBED
    return _utc(yes.updated_at) > _utc(no.updated_at)


def _incoming_wins(incoming: Consent, current: Consent) -> bool:
    if pos_opt_in(incoming.state):
        return _yes_may_replace_no(incoming, current)
    return not _provably_newer(current, incoming)


def merge_consent(incoming: Consent | None, current: Consent | None) -> Consent | None:
    """The consent to write to the POS, or None when the POS should keep what it has.

    `incoming` is Shopify's consent, `current` the POS reading. No incoming value never blanks the
    POS (rule 21); equal flags need no write even if the Shopify states differ (`unsubscribed` and
    `not_subscribed` are both "not opted in" to a POS).
    """
    if incoming is None:
        return None
    if current is None:
        return incoming
    if pos_opt_in(incoming.state) == pos_opt_in(current.state):
        return None
    return incoming if _incoming_wins(incoming, current) else None


def consent_for_shopify(pos: Consent | None, shopify: Consent | None) -> Consent | None:
    """The consent to write to Shopify from a POS reading (rule 2's direction), or None for no change.

    The POS knows only opted in or not, so the result is `subscribed` or `unsubscribed`. A customer
    Shopify has no consent for is only written when the POS says opted in (Shopify's default is
    already "not subscribed"). `redacted` and `invalid` are Shopify's to keep.
    """
    if pos is None:
        return None
    opted_in = pos_opt_in(pos.state)
    proposal = Consent(ConsentState.SUBSCRIBED if opted_in else ConsentState.UNSUBSCRIBED, pos.updated_at)
    if shopify is None:
        return proposal if opted_in else None
    if shopify.state in SHOPIFY_PROTECTED:
        return None
    if pos_opt_in(shopify.state) == opted_in:
        return None
    return proposal if _incoming_wins(proposal, shopify) else None
