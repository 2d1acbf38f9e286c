"""Canonical values of what Shopify tells possync: a customer with its Shopify id, and an order.

The webhook schemas and the GraphQL client both produce these, so the rules never see Shopify JSON.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from possync.models.customer import Address, Customer

# The Admin API version possync is written against (webhook bodies, GraphQL documents); a tenant may pin another.
SHOPIFY_API_VERSION = "2026-07"


@dataclass(frozen=True)
class ShopifyCustomer:
    id: str  # numeric id as a string (from `gid://shopify/Customer/<id>` or the REST id)
    customer: Customer
    state: str | None = None  # disabled / invited / enabled / declined
    orders_count: int | None = None
    amount_spent: str | None = None
    updated_at: datetime | None = None
    # Read for the CRM destination (SPEC rule 41); the POS rules do not use them.
    currency: str | None = None  # of `amount_spent`
    tax_exempt: bool | None = None
    created_at: datetime | None = None


@dataclass(frozen=True)
class ShopifyOrder:
    id: str
    customer: ShopifyCustomer | None  # None: an order with no customer (Heartland default customer, rule 23)
    source_name: str | None = None  # "web", "pos", ...
    email: str | None = None
    phone: str | None = None
    billing_address: Address | None = None
    shipping_address: Address | None = None

    @property
    def is_pos_order(self) -> bool:
        return (self.source_name or "").lower() == "pos"
