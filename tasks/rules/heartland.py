"""Heartland Retail's extra rules (SPEC rules 22 to 24).

- Rule 22: Heartland's API refuses a customer without an email and a complete physical address. The
  adapter checks first (`create_problems`, in `possync.adapters.heartland.mapping`) and fails the sync with a
  reason naming what is missing instead of half-creating the customer; a later Shopify update re-runs it.
- Rule 23: the tenant's default customer stands in only for an order with no customer, or a Shopify
  POS order whose customer is incomplete. Never for a normal (web) customer missing an address: that
  sync fails under rule 22. It is not a way to anonymise customers.
- Rule 24: birthday, opt-ins and tags are not standard Heartland fields; each lives in the merchant
  custom field named by `heartland_custom_fields` and is simply not held when unmapped.
"""

from __future__ import annotations

from collections.abc import Mapping

from possync.adapters.base import Capabilities
from possync.adapters.heartland.mapping import CustomFields, capabilities_for, create_problems, describe_problems
from possync.models.customer import Customer
from possync.models.shopify_values import ShopifyOrder
from possync.models.tables import PosKind

__all__ = ["create_problems", "describe_problems", "heartland_capabilities", "order_contact",
           "uses_default_customer"]


def heartland_capabilities(custom_fields: Mapping[str, str]) -> Capabilities:
    """What this tenant's Heartland can hold, given its `heartland_custom_fields` mapping (rule 24).

    The adapter owns the answer; this is the rules' way to ask without building a client.
    """
    return capabilities_for(CustomFields.from_settings(custom_fields))


def order_contact(order: ShopifyOrder) -> Customer | None:
    """The order's customer with the order's own email and billing address filling its gaps."""
    if order.customer is None:
        return None
    customer = order.customer.customer
    return customer.replace(
        email=customer.email or order.email,
        billing_address=customer.billing_address or order.billing_address,
    )


def uses_default_customer(order: ShopifyOrder, pos_kind: PosKind | str) -> bool:
    """Whether this order goes to the tenant's default customer instead of its own (rule 23)."""
    if PosKind(pos_kind) is not PosKind.HEARTLAND:
        return False
    contact = order_contact(order)
    if contact is None:
        return True
    return order.is_pos_order and bool(create_problems(contact))
