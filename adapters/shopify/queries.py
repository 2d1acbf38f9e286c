"""The GraphQL Admin API documents possync sends (API version 2026-07).

Each document carries an operation name; the fake dispatches on it, and Shopify logs it, which makes
a merchant's API-usage page readable. Email and phone (with their consent) are read through
`defaultEmailAddress` / `defaultPhoneNumber`, which replaced the deprecated `email`, `phone`,
`emailMarketingConsent` and `smsMarketingConsent` fields in 2025-04. In 2026-10 the `marketing*`
fields of `CustomerPhoneNumber` are deprecated in turn (for `smsMarketingConsent { state ... }`);
moving past 2026-07 means changing `_PHONE` below.
"""

from __future__ import annotations

SEARCH_PAGE_SIZE = 10  # search results read per lookup; matching only needs the first few
LIST_PAGE_SIZE = 250  # Shopify's largest page
MAX_QUERY_COST = 1000  # Shopify refuses a single query whose requested cost is higher

_ADDRESS = "address1 address2 city company province provinceCode zip countryCodeV2"
_EMAIL = "defaultEmailAddress { emailAddress marketingState marketingOptInLevel marketingUpdatedAt }"
_PHONE = (
    "defaultPhoneNumber { phoneNumber marketingState marketingOptInLevel marketingUpdatedAt marketingCollectedFrom }"
)


def customer_fields(namespace: str, key: str) -> str:
    """The selection of a customer; the birthday metafield's namespace and key are per deployment."""
    return (
        f"id firstName lastName state tags numberOfOrders createdAt updatedAt taxExempt "
        f"amountSpent {{ amount currencyCode }} "
        f"{_EMAIL} {_PHONE} defaultAddress {{ {_ADDRESS} }} "
        f'metafield(namespace: "{namespace}", key: "{key}") {{ value }}'
    )


def list_fields(with_address: bool, with_tags: bool = False) -> str:
    """What a listing of every customer needs for matching (and, for Heartland, the address it checks).

    Shopify prices a connection at 2 + first x (1 per object in a node): the node, its email, its phone
    and its address. Scalars are free; the full `customer_fields` would cost 6 per node.
    """
    fields = "id firstName lastName defaultEmailAddress { emailAddress } defaultPhoneNumber { phoneNumber }"
    if with_tags:  # scalars, free: the ShipStation export maps tags and compares change times
        fields = f"{fields} tags updatedAt"
    return f"{fields} defaultAddress {{ {_ADDRESS} }}" if with_address else fields


def list_page_size(with_address: bool) -> int:
    """The largest page whose requested cost stays within the single-query limit."""
    per_node = 4 if with_address else 3
    return min(LIST_PAGE_SIZE, (MAX_QUERY_COST - 2) // per_node)


def full_page_size() -> int:
    """A listing of `customer_fields` (6 objects a node) within the single-query limit."""
    return min(LIST_PAGE_SIZE, (MAX_QUERY_COST - 2) // 6)


COUNT_CUSTOMERS = "query CustomersCount { customersCount { count precision } }"


def list_customers(fields: str) -> str:
    return (
        "query ListCustomers($first: Int!, $after: String) "
        f"{{ customers(first: $first, after: $after, sortKey: ID) {{ nodes {{ {fields} }} "
        "pageInfo { hasNextPage endCursor } } }"
    )


def get_customer(fields: str) -> str:
    return f"query GetCustomer($id: ID!) {{ customer(id: $id) {{ {fields} }} }}"


def search_customers(fields: str) -> str:
    return (
        "query SearchCustomers($query: String!, $first: Int!) "
        f"{{ customers(first: $first, query: $query) {{ nodes {{ {fields} }} }} }}"
    )


def get_order(fields: str) -> str:
    return (
        "query GetOrder($id: ID!) { order(id: $id) { id sourceName email phone "
        f"customer {{ {fields} }} billingAddress {{ {_ADDRESS} }} shippingAddress {{ {_ADDRESS} }} }} }}"
    )


def customer_create(fields: str) -> str:
    return (
        "mutation CustomerCreate($input: CustomerInput!) { customerCreate(input: $input) "
        f"{{ customer {{ {fields} }} userErrors {{ field message }} }} }}"
    )


def customer_update(fields: str) -> str:
    return (
        "mutation CustomerUpdate($input: CustomerInput!) { customerUpdate(input: $input) "
        f"{{ customer {{ {fields} }} userErrors {{ field message }} }} }}"
    )


def email_consent_update(fields: str) -> str:
    return (
        "mutation CustomerEmailMarketingConsentUpdate($input: CustomerEmailMarketingConsentUpdateInput!) "
        "{ customerEmailMarketingConsentUpdate(input: $input) "
        f"{{ customer {{ {fields} }} userErrors {{ field message code }} }} }}"
    )


def sms_consent_update(fields: str) -> str:
    return (
        "mutation CustomerSmsMarketingConsentUpdate($input: CustomerSmsMarketingConsentUpdateInput!) "
        "{ customerSmsMarketingConsentUpdate(input: $input) "
        f"{{ customer {{ {fields} }} userErrors {{ field message code }} }} }}"
    )
