"""Sending Shopify webhooks the way Shopify does, and realistic 2026-07 bodies to send.

Tests, the benchmark and `possync demo` use these to play Shopify against the receiver: the body is
serialised once and signed over exactly those bytes, with every `X-Shopify-*` header a real delivery
carries. The builders follow the 2026-07 reference payloads (reference §1.5, §1.6, §3): since 2025-01
customer bodies have no tags, counts or consent; those travel on their own topics.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import requests

from possync.adapters.shopify.hmac import sign
from possync.models.shopify_values import SHOPIFY_API_VERSION

__all__ = [
    "address_payload",
    "customer_delete_payload",
    "customer_payload",
    "customer_redact_payload",
    "data_request_payload",
    "email_consent_payload",
    "merge_payload",
    "order_payload",
    "refund_payload",
    "send_webhook",
    "shop_redact_payload",
    "sign",
    "sms_consent_payload",
    "webhook_headers",
]

DEFAULT_API_VERSION = SHOPIFY_API_VERSION


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _triggered_at() -> str:
    # The documented example value has six fractional digits and a Z: 2025-07-10T16:15:47.000000Z
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def webhook_headers(
    body: bytes,
    topic: str,
    secret: str,
    shop_domain: str,
    *,
    webhook_id: str | None = None,
    api_version: str = DEFAULT_API_VERSION,
    event_id: str | None = None,
    triggered_at: str | None = None,
) -> dict[str, str]:
    """The headers of one delivery of `body`, signed with `secret`."""
    return {
        "Content-Type": "application/json",
        "X-Shopify-Topic": topic,
        "X-Shopify-Hmac-Sha256": sign(body, secret),
        "X-Shopify-Shop-Domain": shop_domain,
        "X-Shopify-API-Version": api_version,
        "X-Shopify-Webhook-Id": webhook_id or str(uuid.uuid4()),
        "X-Shopify-Triggered-At": triggered_at or _triggered_at(),
        "X-Shopify-Event-Id": event_id or str(uuid.uuid4()),
    }


def send_webhook(
    url: str,
    topic: str,
    payload: dict[str, Any] | bytes,
    secret: str,
    shop_domain: str,
    webhook_id: str | None = None,
    api_version: str = DEFAULT_API_VERSION,
    *,
    session: requests.Session | None = None,
    timeout: float = 5.0,
    extra_headers: dict[str, str] | None = None,
) -> requests.Response:
    """POST one signed delivery to `url`. Bytes are sent as given (to test signatures over odd bodies).

    Shopify gives the receiver 5 seconds; the same timeout here makes a slow receiver show up in tests.
    """
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode("utf-8")
    headers = webhook_headers(body, topic, secret, shop_domain, webhook_id=webhook_id, api_version=api_version)
    headers.update(extra_headers or {})
    return (session or requests).post(url, data=body, headers=headers, timeout=timeout)


# --- payload builders --------------------------------------------------------------------------------
def address_payload(
    address1: str | None = "150 Elgin St",
    city: str | None = "Ottawa",
    province_code: str | None = "ON",
    zip: str | None = "K2P 1L4",
    country_code: str | None = "CA",
    *,
    first_name: str | None = None,
    last_name: str | None = None,
    address2: str | None = None,
    company: str | None = None,
    phone: str | None = None,
    province: str | None = None,
    country: str | None = None,
) -> dict[str, Any]:
    """An address as orders and customers carry it (REST shape)."""
    return {
        "first_name": first_name,
        "last_name": last_name,
        "company": company,
        "address1": address1,
        "address2": address2,
        "city": city,
        "province": province,
        "country": country,
        "zip": zip,
        "phone": phone,
        "name": " ".join(p for p in (first_name, last_name) if p) or None,
        "province_code": province_code,
        "country_code": country_code,
    }


def customer_payload(
    id: int | str = 706405506930370084,
    email: str | None = "bob@biller.com",
    first_name: str | None = "Bob",
    last_name: str | None = "Biller",
    phone: str | None = None,
    *,
    default_address: dict[str, Any] | None = None,
    state: str = "enabled",
    created_at: str | None = None,
    updated_at: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A `customers/create` / `customers/update` body (also the `customer` object of an order).

    `extra` adds keys older API versions sent (`tags`, `email_marketing_consent`, ...).
    """
    numeric = int(id)
    address = None
    if default_address is not None:
        address = {
            "id": numeric + 1,
            "customer_id": numeric,
            **default_address,
            "country_name": default_address.get("country"),
            "default": True,
        }
    stamp = updated_at or _now()
    body = {
        "id": numeric,
        "created_at": created_at or stamp,
        "updated_at": stamp,
        "first_name": first_name,
        "last_name": last_name,
        "state": state,
        "note": None,
        "verified_email": True,
        "multipass_identifier": None,
        "tax_exempt": False,
        "email": email,
        "phone": phone,
        "currency": "USD",
        "addresses": [address] if address else [],
        "tax_exemptions": [],
        "admin_graphql_api_id": f"gid://shopify/Customer/{numeric}",
        "default_address": address,
    }
    body.update(extra)
    return body


def order_payload(
    id: int | str = 820982911946154508,
    customer: dict[str, Any] | None = None,
    *,
    email: str | None = None,
    phone: str | None = None,
    source_name: str = "web",
    billing_address: dict[str, Any] | None = None,
    shipping_address: dict[str, Any] | None = None,
    total_price: str = "199.00",
    buyer_accepts_marketing: bool = False,
    **extra: Any,
) -> dict[str, Any]:
    """An `orders/create` / `orders/updated` body; `customer=None` is an order with no customer."""
    numeric = int(id)
    stamp = _now()
    order_email = email if email is not None else (customer or {}).get("email")
    body = {
        "id": numeric,
        "admin_graphql_api_id": f"gid://shopify/Order/{numeric}",
        "name": f"#{numeric % 10000}",
        "order_number": numeric % 10000,
        "created_at": stamp,
        "updated_at": stamp,
        "processed_at": stamp,
        "financial_status": "paid",
        "currency": "USD",
        "total_price": total_price,
        "subtotal_price": total_price,
        "total_tax": "0.00",
        "email": order_email,
        "contact_email": order_email,
        "phone": phone,
        "customer_locale": "en",
        "buyer_accepts_marketing": buyer_accepts_marketing,
        "source_name": source_name,
        "tags": "",
        "note": None,
        "note_attributes": [],
        "customer": customer,
        "billing_address": billing_address,
        "shipping_address": shipping_address,
        "line_items": [
            {
                "id": numeric + 1,
                "title": "Widget",
                "quantity": 1,
                "price": total_price,
                "sku": "WID-1",
                "admin_graphql_api_id": f"gid://shopify/LineItem/{numeric + 1}",
            }
        ],
        "refunds": [],
    }
    body.update(extra)
    return body


def refund_payload(order_id: int | str, id: int | str | None = None, amount: str = "75.00") -> dict[str, Any]:
    """A `refunds/create` body: no customer, no email, no address (reference §3.2)."""
    order = int(order_id)
    refund = int(id) if id is not None else order + 7
    stamp = _now()
    return {
        "id": refund,
        "order_id": order,
        "created_at": stamp,
        "processed_at": stamp,
        "note": "Things were damaged",
        "user_id": None,
        "restock": False,
        "duties": [],
        "total_duties_set": {"shop_money": {"amount": "0.00", "currency_code": "USD"}},
        "return": None,
        "refund_shipping_lines": [],
        "order_adjustments": [],
        "admin_graphql_api_id": f"gid://shopify/Refund/{refund}",
        "refund_line_items": [],
        "transactions": [
            {
                "id": refund + 1,
                "order_id": order,
                "kind": "refund",
                "gateway": "bogus",
                "status": "success",
                "message": None,
                "created_at": stamp,
                "amount": amount,
                "currency": "USD",
                "parent_id": None,
                "processed_at": stamp,
                "source_name": "web",
                "payment_id": f"#{order}.2",
                "admin_graphql_api_id": f"gid://shopify/OrderTransaction/{refund + 1}",
            }
        ],
    }


def merge_payload(
    kept_id: int | str, deleted_id: int | str, *, status: str = "completed", job_id: str | None = None
) -> dict[str, Any]:
    """A `customers/merge` body; `status="failed"` adds an `errors` entry like Shopify's sample."""
    errors: list[dict[str, Any]] = []
    if status == "failed":
        errors = [
            {
                "customer_ids": [int(kept_id)],
                "field": "merge_in_progress",
                "message": "Customer is already being merged",
            }
        ]
    return {
        "admin_graphql_api_customer_kept_id": f"gid://shopify/Customer/{int(kept_id)}",
        "admin_graphql_api_customer_deleted_id": f"gid://shopify/Customer/{int(deleted_id)}",
        "admin_graphql_api_job_id": job_id,
        "status": status,
        "errors": errors,
    }


def customer_delete_payload(id: int | str) -> dict[str, Any]:
    return {"id": int(id), "tax_exemptions": [], "admin_graphql_api_id": f"gid://shopify/Customer/{int(id)}"}


def email_consent_payload(
    customer_id: int | str,
    email: str | None,
    state: str = "subscribed",
    *,
    opt_in_level: str | None = "single_opt_in",
    consent_updated_at: str | None = None,
) -> dict[str, Any]:
    """A `customers_email_marketing_consent/update` body (the id key is `customer_id`)."""
    return {
        "customer_id": int(customer_id),
        "email_address": email,
        "email_marketing_consent": {
            "state": state,
            "opt_in_level": opt_in_level,
            "consent_updated_at": consent_updated_at,
        },
    }


def sms_consent_payload(
    customer_id: int | str,
    phone: str | None,
    state: str = "subscribed",
    *,
    opt_in_level: str | None = "single_opt_in",
    consent_updated_at: str | None = None,
) -> dict[str, Any]:
    """A `customers_marketing_consent/update` body (the SMS topic; the id key is `id`)."""
    return {
        "id": int(customer_id),
        "phone": phone,
        "sms_marketing_consent": {
            "state": state,
            "opt_in_level": opt_in_level,
            "consent_updated_at": consent_updated_at,
            "consent_collected_from": "other",
        },
    }


def data_request_payload(
    customer_id: int | str,
    email: str | None = None,
    phone: str | None = None,
    orders: list[int] | None = None,
    *,
    shop_domain: str = "example.myshopify.com",
    shop_id: int = 954889,
    request_id: int = 9999,
) -> dict[str, Any]:
    return {
        "shop_id": shop_id,
        "shop_domain": shop_domain,
        "orders_requested": list(orders or []),
        "customer": {"id": int(customer_id), "email": email, "phone": phone},
        "data_request": {"id": request_id},
    }


def customer_redact_payload(
    customer_id: int | str,
    email: str | None = None,
    phone: str | None = None,
    orders: list[int] | None = None,
    *,
    shop_domain: str = "example.myshopify.com",
    shop_id: int = 954889,
) -> dict[str, Any]:
    return {
        "shop_id": shop_id,
        "shop_domain": shop_domain,
        "customer": {"id": int(customer_id), "email": email, "phone": phone},
        "orders_to_redact": list(orders or []),
    }


def shop_redact_payload(shop_domain: str = "example.myshopify.com", shop_id: int = 954889) -> dict[str, Any]:
    return {"shop_id": shop_id, "shop_domain": shop_domain}
