"""What a new or changed POS customer sends to Shopify (SPEC rule 2's direction).

Only the basic details travel this way: first and last name, email, phone, marketing consent, and the
merchant's POS tags that Shopify lacks (rule 50: compared case-insensitively; possync's own `Shopify`
and account-name tags stay on the POS). Addresses and birthday stay with the POS. The comparisons are
those of the Shopify -> POS diff (emails case-insensitively, phones by match key) and an empty POS value
never blanks a Shopify one.
"""

from __future__ import annotations

from typing import Any

from possync.models.customer import Customer
from possync.models.tags import Tags
from possync.tasks.rules.consent import consent_for_shopify
from possync.tasks.rules.diff import is_blank, same_value
from possync.tasks.rules.mapping import possync_tags

BASIC_FIELDS = ("first_name", "last_name", "email", "phone")
CONSENT_FIELDS = ("email_consent", "sms_consent")


def shopify_changes_from_pos(pos: Customer, shopify: Customer | None, *, region: str = "US") -> dict[str, Any]:
    """The Shopify fields to write from this POS reading; `{}` when Shopify already agrees.

    `shopify` is None for a POS customer with no Shopify counterpart yet: then every basic detail
    the POS has is returned (the create payload). `region` is the tenant's `default_phone_region`.
    """
    current = shopify or Customer()
    changes: dict[str, Any] = {}
    for name in BASIC_FIELDS:
        want, have = getattr(pos, name), getattr(current, name)
        if not is_blank(want) and not same_value(name, want, have, region):
            changes[name] = want.strip() if isinstance(want, str) else want
    for name in CONSENT_FIELDS:
        consent = consent_for_shopify(getattr(pos, name), getattr(current, name) if shopify else None)
        if consent is not None:
            changes[name] = consent
    return changes


def shopify_tags_from_pos(pos: Customer, shopify: Customer | None, *, account_name: str | None
                          ) -> tuple[Tags | None, list[dict[str, str]]]:
    """The whole tag list to write to Shopify (None: nothing to write) and what Shopify's limits dropped.

    Only the merchant's POS tags that Shopify lacks cause a write, so a POS holding `vip` against
    Shopify's `VIP` writes nothing (rule 50). Shopify replaces a customer's tags with what is sent,
    so the list is Shopify's tags followed by the POS's new ones, within 250 tags of 255 characters.
    """
    have = shopify.tags if shopify is not None else Tags()
    new = pos.tags.without(possync_tags(account_name)).missing_from(have)
    if not new:
        return None, []
    kept, dropped = have.union(new).for_shopify()
    return (kept if kept.missing_from(have) else None), dropped
