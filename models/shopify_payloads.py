"""Schemas of the Shopify webhook bodies possync acts on (API version 2026-07), and their parser.

`parse_payload(topic, body)` turns the raw bytes of one delivery into a typed value around the
canonical `ShopifyCustomer` / `ShopifyOrder`, so the pipeline never reads Shopify JSON. Every
failure (bad JSON, a wrong type, a missing id) is one `PayloadError` whose message names the field:
the receiver stores that reason on the event and the merchant can see what Shopify sent wrong.

Unknown keys are ignored: Shopify adds fields in new API versions and payloads must keep parsing.
Since 2025-01 customer payloads carry no tags, counts or consent (separate topics do); the schemas
still read them when present, for subscriptions pinned to older versions.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC
from typing import Any

from marshmallow import EXCLUDE, Schema, ValidationError, fields, post_load

from possync.models.customer import Address, Consent, ConsentState, Customer
from possync.models.shopify_values import ShopifyCustomer, ShopifyOrder
from possync.models.tags import Tags as TagList

GID_PREFIX = "gid://shopify/"


class PayloadError(Exception):
    """A webhook body is not valid JSON or does not match its topic's schema; names the field."""


# --- parsed values -------------------------------------------------------------------------------
@dataclass(frozen=True)
class ParsedPayload:
    """Base of every parsed delivery. `customer_id`: the Shopify customer it is about, when known."""

    topic: str
    customer_id: str | None


@dataclass(frozen=True)
class CustomerPayload(ParsedPayload):
    """`customers/create`, `customers/update`."""

    customer: ShopifyCustomer


@dataclass(frozen=True)
class CustomerDeletePayload(ParsedPayload):
    """`customers/delete`: only the id survives."""


@dataclass(frozen=True)
class OrderPayload(ParsedPayload):
    """`orders/create`, `orders/updated`. `order.customer` is None for orders without a customer."""

    order: ShopifyOrder


@dataclass(frozen=True)
class RefundPayload(ParsedPayload):
    """`refunds/create`: carries no customer; the order must be fetched (`customer_id` is None)."""

    refund_id: str
    order_id: str


@dataclass(frozen=True)
class MergePayload(ParsedPayload):
    """`customers/merge`: links move from `deleted_id` to `kept_id` (= `customer_id`) when it completed."""

    kept_id: str
    deleted_id: str
    status: str | None
    job_id: str | None
    errors: tuple[str, ...] = ()

    @property
    def succeeded(self) -> bool:
        return (self.status or "").lower() not in ("failed", "error") and not self.errors


@dataclass(frozen=True)
class ConsentPayload(ParsedPayload):
    """The consent topics. `channel` is `email` or `sms`; `contact` is the address or number it is for."""

    channel: str
    consent: Consent
    contact: str | None
    opt_in_level: str | None = None


@dataclass(frozen=True)
class PrivacyPayload(ParsedPayload):
    """`customers/data_request` and `customers/redact`: the customer and the orders concerned."""

    shop_domain: str | None
    email: str | None
    phone: str | None
    order_ids: tuple[str, ...]
    data_request_id: str | None = None


@dataclass(frozen=True)
class ShopRedactPayload(ParsedPayload):
    """`shop/redact`: 48 hours after uninstall; delete the tenant's data."""

    shop_id: str | None
    shop_domain: str | None


# --- fields ----------------------------------------------------------------------------------------
class ShopifyId(fields.Field):
    """A Shopify id as the string of its number: accepts `123`, `"123"` and `gid://shopify/<Type>/123`."""

    default_error_messages = {"invalid": "Not a valid Shopify id."}

    def _deserialize(self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any) -> str:
        return shopify_id(value, error=self.make_error("invalid"))


class Text(fields.String):
    """A string where blank means "no value" (Shopify sends `""` and `null` alike)."""

    def _deserialize(self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any) -> Any:
        text = super()._deserialize(value, attr, data, **kwargs)
        return text if text and text.strip() else None


class Tags(fields.Field):
    """Tags as Shopify writes them: one comma-separated string (REST) or a list (GraphQL)."""

    default_error_messages = {"invalid": "Not a valid tag list."}

    def _deserialize(self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any) -> Any:
        return split_tags(value, error=self.make_error("invalid"))


class Money(fields.Field):
    """A money amount kept as its decimal string (`"100.00"`), never a float."""

    default_error_messages = {"invalid": "Not a valid amount."}

    def _deserialize(self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise self.make_error("invalid")
        return str(value)


def maybe(cls: type[fields.Field], *args: Any, **kwargs: Any) -> fields.Field:
    """A field that may be absent or null."""
    return cls(*args, load_default=None, allow_none=True, **kwargs)


def stamp() -> fields.Field:
    """A timestamp; one without an offset is taken as UTC so comparisons never mix naive and aware."""
    return fields.AwareDateTime(default_timezone=UTC, load_default=None, allow_none=True)


class _Lenient(Schema):
    class Meta:
        unknown = EXCLUDE


# --- shared pieces -----------------------------------------------------------------------------------
class AddressSchema(_Lenient):
    address1 = maybe(Text)
    address2 = maybe(Text)
    city = maybe(Text)
    province = maybe(Text)
    province_code = maybe(Text)
    zip = maybe(Text)
    country = maybe(Text)
    country_code = maybe(Text)
    company = maybe(Text)

    @post_load
    def _make(self, data: dict[str, Any], **_: Any) -> Address | None:
        address = Address(
            address1=data["address1"],
            address2=data["address2"],
            city=data["city"],
            province_code=data["province_code"] or data["province"],
            zip=data["zip"],
            country_code=(data["country_code"] or None) and data["country_code"].upper(),
            company=data["company"],
        )
        return None if address.is_empty() else address


class ConsentSchema(_Lenient):
    """`email_marketing_consent` / `sms_marketing_consent` (REST lower-case states; upper-case accepted)."""

    state = fields.String(required=True, allow_none=False)
    opt_in_level = maybe(fields.String)
    consent_updated_at = stamp()

    @post_load
    def _make(self, data: dict[str, Any], **_: Any) -> tuple[Consent, str | None]:
        try:
            state = ConsentState(data["state"].lower())
        except ValueError:
            raise ValidationError(f"Unknown consent state {data['state'][:40]!r}.", "state") from None
        return Consent(state, data["consent_updated_at"]), data["opt_in_level"]


class CustomerSchema(_Lenient):
    id = ShopifyId(required=True, allow_none=False)
    email = maybe(Text)
    phone = maybe(Text)
    first_name = maybe(Text)
    last_name = maybe(Text)
    state = maybe(fields.String)
    tags = maybe(Tags)
    orders_count = maybe(fields.Integer, strict=True)
    total_spent = maybe(Money)
    updated_at = stamp()
    default_address = fields.Nested(AddressSchema, load_default=None, allow_none=True)
    email_marketing_consent = fields.Nested(ConsentSchema, load_default=None, allow_none=True)
    sms_marketing_consent = fields.Nested(ConsentSchema, load_default=None, allow_none=True)

    @post_load
    def _make(self, data: dict[str, Any], **_: Any) -> ShopifyCustomer:
        email_consent = data["email_marketing_consent"]
        sms_consent = data["sms_marketing_consent"]
        customer = Customer(
            first_name=data["first_name"],
            last_name=data["last_name"],
            email=data["email"],
            phone=data["phone"],
            billing_address=data["default_address"],
            email_consent=email_consent[0] if email_consent else None,
            sms_consent=sms_consent[0] if sms_consent else None,
            tags=TagList(data["tags"] or ()),
        )
        return ShopifyCustomer(
            id=data["id"],
            customer=customer,
            state=data["state"].lower() if data["state"] else None,
            orders_count=data["orders_count"],
            amount_spent=data["total_spent"],
            updated_at=data["updated_at"],
        )


# --- one schema per topic ------------------------------------------------------------------------------
class OrderSchema(_Lenient):
    id = ShopifyId(required=True, allow_none=False)
    customer = fields.Nested(CustomerSchema, load_default=None, allow_none=True)
    source_name = maybe(Text)
    email = maybe(Text)
    contact_email = maybe(Text)
    phone = maybe(Text)
    billing_address = fields.Nested(AddressSchema, load_default=None, allow_none=True)
    shipping_address = fields.Nested(AddressSchema, load_default=None, allow_none=True)

    def load(self, data: Any, *args: Any, **kwargs: Any) -> Any:
        # Some order sources send `"customer": {}`: that is "no customer", not a customer without an id.
        if isinstance(data, dict) and data.get("customer") == {}:
            data = {**data, "customer": None}
        return super().load(data, *args, **kwargs)

    @post_load
    def _make(self, data: dict[str, Any], **_: Any) -> ShopifyOrder:
        return ShopifyOrder(
            id=data["id"],
            customer=data["customer"],
            source_name=data["source_name"],
            email=data["email"] or data["contact_email"],
            phone=data["phone"],
            billing_address=data["billing_address"],
            shipping_address=data["shipping_address"],
        )


class RefundSchema(_Lenient):
    id = ShopifyId(required=True, allow_none=False)
    order_id = ShopifyId(required=True, allow_none=False)


class CustomerDeleteSchema(_Lenient):
    id = ShopifyId(required=True, allow_none=False)


class MergeErrorSchema(_Lenient):
    field = maybe(fields.String)
    message = maybe(fields.String)


class MergeSchema(_Lenient):
    admin_graphql_api_customer_kept_id = ShopifyId(required=True, allow_none=False)
    admin_graphql_api_customer_deleted_id = ShopifyId(required=True, allow_none=False)
    admin_graphql_api_job_id = maybe(fields.String)
    status = maybe(fields.String)
    errors = fields.List(fields.Nested(MergeErrorSchema), load_default=list, allow_none=True)


class EmailConsentSchema(_Lenient):
    customer_id = ShopifyId(required=True, allow_none=False)
    email_address = maybe(Text)
    email_marketing_consent = fields.Nested(ConsentSchema, required=True, allow_none=False)


class SmsConsentSchema(_Lenient):
    # Note the key: `id` here, `customer_id` on the email topic (reference §1.5).
    id = ShopifyId(required=True, allow_none=False)
    phone = maybe(Text)
    sms_marketing_consent = fields.Nested(ConsentSchema, required=True, allow_none=False)


class PrivacyCustomerSchema(_Lenient):
    id = ShopifyId(required=True, allow_none=False)
    email = maybe(Text)
    phone = maybe(Text)


class DataRequestIdSchema(_Lenient):
    id = maybe(ShopifyId)


class DataRequestSchema(_Lenient):
    shop_id = maybe(ShopifyId)
    shop_domain = maybe(Text)
    customer = fields.Nested(PrivacyCustomerSchema, required=True, allow_none=False)
    orders_requested = fields.List(ShopifyId(), load_default=list, allow_none=True)
    data_request = fields.Nested(DataRequestIdSchema, load_default=None, allow_none=True)


class CustomerRedactSchema(_Lenient):
    shop_id = maybe(ShopifyId)
    shop_domain = maybe(Text)
    customer = fields.Nested(PrivacyCustomerSchema, required=True, allow_none=False)
    orders_to_redact = fields.List(ShopifyId(), load_default=list, allow_none=True)


class ShopRedactSchema(_Lenient):
    shop_id = maybe(ShopifyId)
    shop_domain = maybe(Text)


# --- building the values -------------------------------------------------------------------------------
def _customer(topic: str, data: ShopifyCustomer) -> ParsedPayload:
    return CustomerPayload(topic, data.id, data)


def _customer_delete(topic: str, data: dict[str, Any]) -> ParsedPayload:
    return CustomerDeletePayload(topic, data["id"])


def _order(topic: str, data: ShopifyOrder) -> ParsedPayload:
    return OrderPayload(topic, data.customer.id if data.customer else None, data)


def _refund(topic: str, data: dict[str, Any]) -> ParsedPayload:
    return RefundPayload(topic, None, refund_id=data["id"], order_id=data["order_id"])


def _merge(topic: str, data: dict[str, Any]) -> ParsedPayload:
    errors = tuple(f"{e['field'] or 'error'}: {e['message'] or ''}".strip() for e in data["errors"] or ())
    return MergePayload(
        topic,
        data["admin_graphql_api_customer_kept_id"],
        kept_id=data["admin_graphql_api_customer_kept_id"],
        deleted_id=data["admin_graphql_api_customer_deleted_id"],
        status=data["status"],
        job_id=data["admin_graphql_api_job_id"],
        errors=errors,
    )


def _email_consent(topic: str, data: dict[str, Any]) -> ParsedPayload:
    consent, level = data["email_marketing_consent"]
    return ConsentPayload(topic, data["customer_id"], "email", consent, data["email_address"], level)


def _sms_consent(topic: str, data: dict[str, Any]) -> ParsedPayload:
    consent, level = data["sms_marketing_consent"]
    return ConsentPayload(topic, data["id"], "sms", consent, data["phone"], level)


def _data_request(topic: str, data: dict[str, Any]) -> ParsedPayload:
    customer = data["customer"]
    request_id = (data["data_request"] or {}).get("id")
    return PrivacyPayload(
        topic,
        customer["id"],
        shop_domain=data["shop_domain"],
        email=customer["email"],
        phone=customer["phone"],
        order_ids=tuple(data["orders_requested"] or ()),
        data_request_id=request_id,
    )


def _customer_redact(topic: str, data: dict[str, Any]) -> ParsedPayload:
    customer = data["customer"]
    return PrivacyPayload(
        topic,
        customer["id"],
        shop_domain=data["shop_domain"],
        email=customer["email"],
        phone=customer["phone"],
        order_ids=tuple(data["orders_to_redact"] or ()),
    )


def _shop_redact(topic: str, data: dict[str, Any]) -> ParsedPayload:
    return ShopRedactPayload(topic, None, shop_id=data["shop_id"], shop_domain=data["shop_domain"])


# topic -> (schema, builder). Schemas are stateless after construction, so one instance serves all threads.
_TOPICS: dict[str, tuple[Schema, Any]] = {
    "orders/create": (OrderSchema(), _order),
    "orders/updated": (OrderSchema(), _order),
    "refunds/create": (RefundSchema(), _refund),
    "customers/create": (CustomerSchema(), _customer),
    "customers/update": (CustomerSchema(), _customer),
    "customers/delete": (CustomerDeleteSchema(), _customer_delete),
    "customers/merge": (MergeSchema(), _merge),
    "customers_email_marketing_consent/update": (EmailConsentSchema(), _email_consent),
    "customers_marketing_consent/update": (SmsConsentSchema(), _sms_consent),
    "customers/data_request": (DataRequestSchema(), _data_request),
    "customers/redact": (CustomerRedactSchema(), _customer_redact),
    "shop/redact": (ShopRedactSchema(), _shop_redact),
}

ACTED_TOPICS: frozenset[str] = frozenset(_TOPICS)


def parse_payload(topic: str, body: bytes) -> ParsedPayload:
    """Parse one delivery of `topic`. Raises `PayloadError` (naming the field) for anything malformed,
    and `KeyError` for a topic possync does not act on (callers check `ACTED_TOPICS` first)."""
    schema, build = _TOPICS[topic]
    try:
        data = json.loads(body)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError, bad UTF-8, digit limits, deep nesting
        raise PayloadError(f"body is not valid JSON ({_short(exc)})") from None
    if not isinstance(data, dict):
        raise PayloadError(f"body must be a JSON object, got {type(data).__name__}")
    try:
        loaded = schema.load(data)
    except ValidationError as exc:
        raise PayloadError(first_error(exc.messages)) from None
    except RecursionError:
        raise PayloadError("body is nested too deeply") from None
    return build(topic, loaded)


# --- helpers (also used by the GraphQL client) ------------------------------------------------------------
def shopify_id(value: Any, error: Exception | None = None) -> str:
    """`123`, `"123"` or `"gid://shopify/Customer/123"` -> `"123"`; anything else raises `error`."""
    err = error or ValueError("not a valid Shopify id")
    if isinstance(value, bool):
        raise err
    if isinstance(value, int):
        if value <= 0:
            raise err
        return str(value)
    if isinstance(value, str):
        text = value.strip()
        if text.startswith(GID_PREFIX):
            text = text.rsplit("/", 1)[-1].split("?", 1)[0]
        if text.isascii() and text.isdigit() and len(text) <= 20 and int(text) > 0:
            return str(int(text))
    raise err


def split_tags(value: Any, error: Exception | None = None) -> TagList:
    """Tags from `"a, b ,c"` or `["a", " b"]`: trimmed, blanks dropped, one of each whatever its case."""
    if value is None:
        return TagList()
    if not isinstance(value, str | list) or (isinstance(value, list) and not all(isinstance(p, str) for p in value)):
        raise error or ValueError("not a valid tag list")
    return TagList(value.split(",") if isinstance(value, str) else value)


def first_error(messages: Any, path: str = "") -> str:
    """The first marshmallow error as `dotted.path: message` (list positions included)."""
    if isinstance(messages, dict) and messages:
        key, value = next(iter(messages.items()))
        if key == "_schema":
            return first_error(value, path)
        name = str(key)
        return first_error(value, f"{path}.{name}" if path else name)
    if isinstance(messages, list) and messages:
        first = messages[0]
        if isinstance(first, str):
            text = first.rstrip(".")
            return f"{path}: {text}" if path else text
        return first_error(first, path)
    return f"{path}: {messages}" if path else str(messages)


def _short(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text[:120]
