"""Canonical values <-> Shopify GraphQL Admin shapes (read: `Customer` nodes; write: `CustomerInput`).

Kept apart from the client so the rules of translation (which consent states Shopify accepts as input,
where the birthday lives) are readable in one place and testable without HTTP.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from possync.models.customer import Address, Consent, ConsentState, Customer
from possync.models.shopify_payloads import shopify_id, split_tags
from possync.models.shopify_values import ShopifyCustomer, ShopifyOrder
from possync.models.tags import Tags

# Shopify's standard customer metafield for the birthday (reference §2.3); apps also use custom
# namespaces, so the client takes it as a parameter and this is only the default.
BIRTHDAY_METAFIELD = ("facts", "birth_date")

# Consent states a mutation may set. NOT_SUBSCRIBED is refused as input ("use UNSUBSCRIBED");
# REDACTED and INVALID are set by Shopify only.
_SETTABLE = {
    ConsentState.SUBSCRIBED: "SUBSCRIBED",
    ConsentState.PENDING: "PENDING",
    ConsentState.UNSUBSCRIBED: "UNSUBSCRIBED",
    ConsentState.NOT_SUBSCRIBED: "UNSUBSCRIBED",
}

# canonical field -> CustomerInput field, for `update_customer` (basic details only).
BASIC_FIELDS = {"first_name": "firstName", "last_name": "lastName", "email": "email", "phone": "phone"}


def gid(kind: str, value: str | int) -> str:
    """`gid://shopify/<kind>/<number>` from a number, a numeric string or a gid (ValueError otherwise)."""
    return f"gid://shopify/{kind}/{shopify_id(value)}"


# --- reading -----------------------------------------------------------------------------------------
def _text(value: Any) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


def address_from_graphql(node: Mapping[str, Any] | None) -> Address | None:
    if not node:
        return None
    country = _text(node.get("countryCodeV2"))
    address = Address(
        address1=_text(node.get("address1")),
        address2=_text(node.get("address2")),
        city=_text(node.get("city")),
        province_code=_text(node.get("provinceCode")) or _text(node.get("province")),
        zip=_text(node.get("zip")),
        country_code=country.upper() if country else None,
        company=_text(node.get("company")),
    )
    return None if address.is_empty() else address


def _stamp(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def _consent(node: Mapping[str, Any] | None) -> Consent | None:
    if not node or not isinstance(node.get("marketingState"), str):
        return None
    try:
        state = ConsentState(node["marketingState"].lower())
    except ValueError:
        return None
    return Consent(state, _stamp(node.get("marketingUpdatedAt")))


def _birthday(node: Mapping[str, Any] | None) -> date | None:
    value = (node or {}).get("value")
    if not isinstance(value, str):
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None  # a malformed metafield must not fail the whole sync


def customer_from_graphql(node: Mapping[str, Any]) -> ShopifyCustomer:
    """A `Customer` node (selection in `queries.customer_fields`) as a `ShopifyCustomer`."""
    email_node = node.get("defaultEmailAddress") or {}
    phone_node = node.get("defaultPhoneNumber") or {}
    customer = Customer(
        first_name=_text(node.get("firstName")),
        last_name=_text(node.get("lastName")),
        email=_text(email_node.get("emailAddress")),
        phone=_text(phone_node.get("phoneNumber")),
        birthday=_birthday(node.get("metafield")),
        billing_address=address_from_graphql(node.get("defaultAddress")),
        email_consent=_consent(email_node),
        sms_consent=_consent(phone_node),
        tags=split_tags(node.get("tags") or []),
    )
    orders = node.get("numberOfOrders")  # UnsignedInt64: serialised as a string
    amount = (node.get("amountSpent") or {}).get("amount")
    currency = (node.get("amountSpent") or {}).get("currencyCode")
    state = node.get("state")
    tax_exempt = node.get("taxExempt")
    return ShopifyCustomer(
        id=shopify_id(node["id"]),
        customer=customer,
        state=state.lower() if isinstance(state, str) else None,
        orders_count=int(orders) if isinstance(orders, str | int) and str(orders).isdigit() else None,
        amount_spent=str(amount) if amount is not None else None,
        updated_at=_stamp(node.get("updatedAt")),
        currency=currency if isinstance(currency, str) else None,
        tax_exempt=tax_exempt if isinstance(tax_exempt, bool) else None,
        created_at=_stamp(node.get("createdAt")),
    )


def order_from_graphql(node: Mapping[str, Any]) -> ShopifyOrder:
    customer = node.get("customer")
    return ShopifyOrder(
        id=shopify_id(node["id"]),
        customer=customer_from_graphql(customer) if customer else None,
        source_name=_text(node.get("sourceName")),
        email=_text(node.get("email")),
        phone=_text(node.get("phone")),
        billing_address=address_from_graphql(node.get("billingAddress")),
        shipping_address=address_from_graphql(node.get("shippingAddress")),
    )


# --- writing -----------------------------------------------------------------------------------------
def address_input(address: Address) -> dict[str, Any]:
    """A `MailingAddressInput`; a `province_code` that is not a code (a name a POS stored) still goes
    in `provinceCode`, where Shopify matches names too."""
    values = {
        "address1": address.address1,
        "address2": address.address2,
        "city": address.city,
        "company": address.company,
        "provinceCode": address.province_code,
        "zip": address.zip,
        "countryCode": address.country_code,
    }
    return {k: v for k, v in values.items() if v}


def settable_state(state: ConsentState) -> str | None:
    """The `marketingState` to send for a canonical state, or None when Shopify accepts no input for it."""
    return _SETTABLE.get(state)


def consent_input(consent: Consent) -> dict[str, Any] | None:
    """A `Customer{Email,Sms}MarketingConsentInput`, or None for a state that cannot be written."""
    state = settable_state(consent.state)
    if state is None:
        return None
    value: dict[str, Any] = {"marketingState": state}
    if state == "SUBSCRIBED":
        value["marketingOptInLevel"] = "SINGLE_OPT_IN"
    elif state == "PENDING":
        value["marketingOptInLevel"] = "CONFIRMED_OPT_IN"  # pending = a double opt-in awaiting confirmation
    if consent.updated_at is not None:
        value["consentUpdatedAt"] = consent.updated_at.isoformat()
    return value


def customer_input(customer: Customer, birthday_metafield: tuple[str, str] = BIRTHDAY_METAFIELD) -> dict[str, Any]:
    """A `CustomerInput` for `customerCreate`: only the fields that hold a value."""
    value: dict[str, Any] = {}
    for name, graphql_name in BASIC_FIELDS.items():
        if getattr(customer, name):
            value[graphql_name] = getattr(customer, name)
    addresses = [a for a in (customer.billing_address, customer.shipping_address) if a and not a.is_empty()]
    if addresses:
        value["addresses"] = [address_input(a) for a in dict.fromkeys(addresses)]
    if customer.tags:
        value["tags"] = list(customer.tags.for_shopify()[0])  # Shopify refuses the whole write past its limits
    if customer.email and customer.email_consent and (email_consent := consent_input(customer.email_consent)):
        value["emailMarketingConsent"] = email_consent
    if customer.phone and customer.sms_consent and (sms_consent := consent_input(customer.sms_consent)):
        value["smsMarketingConsent"] = sms_consent
    if customer.birthday:
        namespace, key = birthday_metafield
        value["metafields"] = [
            {"namespace": namespace, "key": key, "type": "date", "value": customer.birthday.isoformat()}
        ]
    return value


def update_input(customer_gid: str, changes: Mapping[str, Any]) -> dict[str, Any]:
    """A `CustomerInput` for `customerUpdate` from canonical basic fields; None values are left out
    (an empty value never blanks one out, SPEC rule 21). Other keys are a programming error."""
    unknown = sorted(set(changes) - set(BASIC_FIELDS) - {"tags"})
    if unknown:
        raise ValueError(f"update_customer writes only {sorted(BASIC_FIELDS)} and tags; got {unknown}")
    value: dict[str, Any] = {"id": customer_gid}
    for name, new in changes.items():
        if name == "tags":
            if new:  # the whole list: Shopify replaces a customer's tags with what is sent
                value["tags"] = list(Tags(new).for_shopify()[0])
        elif new is not None and new != "":
            value[BASIC_FIELDS[name]] = new
    return value
