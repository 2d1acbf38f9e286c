"""What a POS customer should look like for a Shopify customer (SPEC rules 14 to 18, 25).

`desired_pos_customer` builds the canonical `Customer` that create writes whole and update diffs
against (`possync.tasks.rules.diff`). It only carries fields the tenant's POS can hold (`held_fields`), so
nothing downstream has to filter again.

Where each canonical field lands, per POS (the README copies this table):

| canonical field | Lightspeed R-Series | Lightspeed X-Series | Heartland Retail |
| --- | --- | --- | --- |
| first_name / last_name | `firstName` / `lastName` | `first_name` / `last_name` | `first_name` / `last_name` |
| email (email 1) | `Contact.Emails` primary | `email` | `email` |
| phone (phone 1, rule 15) | `Contact.Phones` `Home` | `phone` | `mobile` (phone on the address) |
| birthday (`facts.birth_date`) | `dob` | `date_of_birth` | custom field `heartland_custom_fields["birthday"]` |
| billing address (Shopify default address) | `Contact.Addresses` | `physical_*` | `billing_address_id` address |
| shipping address (the order's) | not held: travels with the sale | `postal_*` | `shipping_address_id` address |
| email consent | `Contact.noEmail` (opt-out) | `do_not_email` (opt-out) | custom field `["email_opt_in"]` |
| SMS consent | `Contact.noPhone` (opt-out) | `enable_promotional_sms` | custom field `["sms_opt_in"]` only |
| tags `Shopify` + account name (rule 18) | customer `Tags` | `custom_field_4` (no tags) | custom field `["tags"]` |

Where a POS has no tags, the tags are joined by `Tags.text` into the text field named by
`Capabilities.tags_field`, which merchants can filter customer lists by. A Heartland field with no
key in `heartland_custom_fields` is not held at all (see `possync.tasks.rules.heartland.heartland_capabilities`).
"""

from __future__ import annotations

import functools
from typing import Any

from possync.adapters.base import Capabilities
from possync.models import military
from possync.models.customer import Address, Customer
from possync.models.shopify_values import ShopifyCustomer, ShopifyOrder
from possync.models.tags import Tags

SHOPIFY_TAG = "Shopify"
_ADDRESS_FIELDS = tuple(Address.__dataclass_fields__)

# Every field possync writes to a POS (rule 14), before capabilities remove what a POS cannot hold.
POS_FIELDS = Customer.SYNCED_FIELDS


@functools.lru_cache(maxsize=256)  # Capabilities are frozen; a tenant's never change while it runs
def held_fields(capabilities: Capabilities) -> tuple[str, ...]:
    """The canonical fields this POS can hold, in `POS_FIELDS` order.

    `birthday` and `email_consent` are read with a default of True because `Capabilities` does not
    (yet) carry them; Heartland holds them only when the merchant mapped a custom field.
    """
    can = {
        "shipping_address": capabilities.shipping_address,
        "sms_consent": capabilities.sms_consent,
        "tags": capabilities.has_tags or bool(capabilities.tags_field),
        "birthday": capabilities.birthday,
        "email_consent": capabilities.email_consent,
    }
    return tuple(name for name in POS_FIELDS if can.get(name, True))


@functools.lru_cache(maxsize=256)  # one per tenant; Tags are immutable
def possync_tags(account_name: str | None) -> Tags:
    """The tags every synced customer carries: `Shopify` and the tenant's account name (rule 14)."""
    return Tags((SHOPIFY_TAG, account_name or ""))


def desired_pos_customer(
    shopify: ShopifyCustomer,
    *,
    order: ShopifyOrder | None,
    account_name: str,
    capabilities: Capabilities,
) -> Customer:
    """The POS customer for this Shopify customer (and the order that triggered the sync, if any).

    - names, birthday (`facts.birth_date`, rule 17), email and phone 1 come from the customer; when
      the customer profile lacks an email or phone, the order's contact email/phone is used;
    - the billing address is the customer's default address (rule 16), else the order's billing address;
    - the shipping address is the order's, only where the POS holds one;
    - consent: email always, SMS where the POS holds it (rule 25);
    - tags: `Shopify` and the account name (rule 14).
    """
    source = shopify.customer
    values: dict[str, Any] = {
        "first_name": _text(source.first_name),
        "last_name": _text(source.last_name),
        "email": _text(source.email) or (_text(order.email) if order else None),
        "phone": _text(source.phone) or (_text(order.phone) if order else None),
        "birthday": source.birthday,
        "billing_address": _address(source.billing_address) or (_address(order.billing_address) if order else None),
        "shipping_address": _address(order.shipping_address) if order else None,
        "email_consent": source.email_consent,
        "sms_consent": source.sms_consent,
        "tags": possync_tags(account_name),
    }
    keep = set(held_fields(capabilities))
    return Customer(**{name: value for name, value in values.items() if name in keep})


def _text(value: str | None) -> str | None:
    value = (value or "").strip()
    return value or None


def _address(address: Address | None) -> Address | None:
    """The address as every destination gets it: a US military one in its required form (rule 52)."""
    if address is None or not any(getattr(address, name) for name in _ADDRESS_FIELDS):
        return None
    return military.normalise(address)
