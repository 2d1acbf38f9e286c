"""Recognising possync's own writes when they come back (SPEC rule 5).

After each write, the caller stores on the link the fingerprint of what the written side now holds
(`CustomerLink.pos_fingerprint` after a POS write, `shopify_fingerprint` after a Shopify write).
Fingerprint the record the write *returned*, over the fields that side holds, so that the next
reading of an untouched record has the same fingerprint. A change arriving with that fingerprint
(the POS poll, a Shopify `customers/update`) is possync's own echo and is not synced back.
"""

from __future__ import annotations

from adapters.base import Capabilities
from models.customer import Customer
from tasks.rules.mapping import held_fields

# What the POS -> Shopify direction carries (rule 2); the Shopify side is fingerprinted over these.
SHOPIFY_FIELDS = ("first_name", "last_name", "email", "phone", "email_consent", "sms_consent")


def pos_fields(capabilities: Capabilities) -> tuple[str, ...]:
    """The fields to fingerprint a POS reading over: exactly those the POS holds."""
    return held_fields(capabilities)


def fingerprint(customer: Customer, fields: tuple[str, ...]) -> str:
    return customer.fingerprint(fields)


def is_echo(customer: Customer, fingerprint: str | None, fields: tuple[str, ...] = Customer.SYNCED_FIELDS) -> bool:
    """True when `customer` is exactly what possync last wrote (so the change is its own echo)."""
    return fingerprint is not None and customer.fingerprint(fields) == fingerprint
