"""Which fields of an existing POS customer to write (SPEC rules 19 to 21, 25, 26).

Only real differences are written, so a customer whose data already matches causes no write at all
and applying the same Shopify customer twice writes nothing the second time (rule 32). "Real" means
compared the way the POS and the customer see it: emails case-insensitively, phones by match key
(`(613) 555-1212` is `+16135551212`), addresses field by field ignoring case and spacing, tags as a
case-insensitive set. An empty Shopify value never blanks a POS value (rule 21).
"""

from __future__ import annotations

from typing import Any

from possync.adapters.base import Capabilities
from possync.models.customer import Address, Customer
from possync.models.normalise import email_key
from possync.tasks.rules.consent import merge_consent
from possync.tasks.rules.keys import same_phone
from possync.tasks.rules.mapping import held_fields

NAME_FIELDS = ("first_name", "last_name")
ADDRESS_FIELDS = tuple(Address.__dataclass_fields__)


def diff_for_update(
    desired: Customer,
    current: Customer,
    *,
    update_names: bool,
    capabilities: Capabilities,
    region: str = "US",
) -> dict[str, Any]:
    """The canonical fields to write to turn `current` (the POS reading) into `desired`; `{}` when none.

    Values are what to write: the desired value, except tags (the merchant's tags plus ours, rule
    18: possync only adds) and consent (what `merge_consent` decides). Names are left out when
    `update_names` is false (rule 20). `region` is the tenant's `default_phone_region`.
    """
    changes: dict[str, Any] = {}
    for name in held_fields(capabilities):
        if name in NAME_FIELDS and not update_names:
            continue
        want, have = getattr(desired, name), getattr(current, name)
        if name in ("email_consent", "sms_consent"):
            merged = merge_consent(want, have)
            if merged is not None:
                changes[name] = merged
            continue
        if name == "tags":
            if not want.keys() <= have.keys():  # rule 50: `shopify` held means `Shopify` needs no write
                changes[name] = have.union(want)
            continue
        if is_blank(want):
            continue  # rule 21: nothing to write never means "erase"
        if not same_value(name, want, have, region):
            changes[name] = want
    return changes


def is_blank(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, Address):
        return not any(getattr(value, name) for name in ADDRESS_FIELDS)
    return False


def same_value(name: str, want: Any, have: Any, region: str) -> bool:
    if have is None:
        return False
    if name == "email":
        return (email_key(want) or _fold(want)) == (email_key(have) or _fold(have))
    if name == "phone":
        return same_phone(want, have, region)
    if name in ("billing_address", "shipping_address"):
        return same_address(want, have)
    if isinstance(want, str) and isinstance(have, str):
        return want.strip() == have.strip()
    return bool(want == have)


def _fold(value: str | None) -> str:
    return " ".join((value or "").split()).casefold()


def same_address(want: Address, have: Address) -> bool:
    """Field by field, ignoring case and spacing; a field `want` leaves empty does not count (rule 21).

    An address is written as a unit: when any filled field differs the whole desired address is
    written (a move clears the old apartment number), but a desired address that merely lacks a
    field the POS has is no reason to write.
    """
    for field_name in ADDRESS_FIELDS:
        wanted = _fold(getattr(want, field_name))
        if wanted and wanted != _fold(getattr(have, field_name)):
            return False
    return True
