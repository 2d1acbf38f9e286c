"""Recognising possync's own writes when they come back (SPEC rule 5): the one place it is decided.

After each write the caller stores on the link the fingerprint of what the written side now holds:
`pos_fingerprint(...)` of the record a POS write returned, `shopify_fingerprint(...)` of the Shopify
customer read back after a Shopify write. A change arriving with that fingerprint (the POS poll, an
X-Series webhook, a Shopify `customers/update`) is possync's own echo and is not synced back.
"""

from __future__ import annotations

from possync.models.customer import Customer
from possync.models.tables import CustomerLink

# Both sides are fingerprinted over every synced field. A POS reading holds empty values for the fields
# its POS lacks, the same on each reading; on Shopify a merchant's edit of any synced field made between
# possync's write and its webhook must not pass for the echo.
POS_FIELDS: tuple[str, ...] = Customer.SYNCED_FIELDS
SHOPIFY_FIELDS: tuple[str, ...] = Customer.SYNCED_FIELDS


def pos_fingerprint(customer: Customer) -> str:
    return customer.fingerprint(POS_FIELDS)


def shopify_fingerprint(customer: Customer) -> str:
    return customer.fingerprint(SHOPIFY_FIELDS)


def is_echo(customer: Customer, fingerprint: str | None, fields: tuple[str, ...]) -> bool:
    """True when `customer` is exactly what possync last wrote (so the change is its own echo)."""
    return fingerprint is not None and customer.fingerprint(fields) == fingerprint


def is_pos_echo(link: CustomerLink | None, pos_customer: Customer) -> bool:
    return link is not None and is_echo(pos_customer, link.pos_fingerprint, POS_FIELDS)


def is_shopify_echo(link: CustomerLink | None, shopify_customer: Customer) -> bool:
    return link is not None and is_echo(shopify_customer, link.shopify_fingerprint, SHOPIFY_FIELDS)
