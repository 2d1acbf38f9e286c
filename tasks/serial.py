"""JSON forms of the values a job carries between steps (job.context is a JSON column)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from possync.adapters.base import PosCustomer
from possync.models.customer import Address, Customer
from possync.models.shopify_values import ShopifyCustomer, ShopifyOrder
from possync.models.tables import PosStatus


def _dt(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _parse_dt(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _address(value: dict[str, Any] | None) -> Address | None:
    return Address(**value) if value else None


def _address_json(value: Address | None) -> dict[str, Any] | None:
    return Customer(billing_address=value).to_json()["billing_address"] if value else None


def shopify_customer_to_json(value: ShopifyCustomer) -> dict[str, Any]:
    return {"id": value.id, "customer": value.customer.to_json(), "state": value.state,
            "orders_count": value.orders_count, "amount_spent": value.amount_spent,
            "updated_at": _dt(value.updated_at), "currency": value.currency, "tax_exempt": value.tax_exempt,
            "created_at": _dt(value.created_at)}


def shopify_customer_from_json(data: dict[str, Any]) -> ShopifyCustomer:
    return ShopifyCustomer(id=str(data["id"]), customer=Customer.from_json(data["customer"]), state=data.get("state"),
                           orders_count=data.get("orders_count"), amount_spent=data.get("amount_spent"),
                           updated_at=_parse_dt(data.get("updated_at")), currency=data.get("currency"),
                           tax_exempt=data.get("tax_exempt"), created_at=_parse_dt(data.get("created_at")))


def order_to_json(value: ShopifyOrder | None) -> dict[str, Any] | None:
    if value is None:
        return None
    return {"id": value.id, "customer": shopify_customer_to_json(value.customer) if value.customer else None,
            "source_name": value.source_name, "email": value.email, "phone": value.phone,
            "billing_address": _address_json(value.billing_address),
            "shipping_address": _address_json(value.shipping_address)}


def order_from_json(data: dict[str, Any] | None) -> ShopifyOrder | None:
    if not data:
        return None
    customer = data.get("customer")
    return ShopifyOrder(id=str(data["id"]), customer=shopify_customer_from_json(customer) if customer else None,
                        source_name=data.get("source_name"), email=data.get("email"), phone=data.get("phone"),
                        billing_address=_address(data.get("billing_address")),
                        shipping_address=_address(data.get("shipping_address")))


def pos_customer_to_json(value: PosCustomer) -> dict[str, Any]:
    return {"pos_id": value.pos_id, "status": value.status.value, "customer": value.customer.to_json(),
            "created_at": _dt(value.created_at), "updated_at": _dt(value.updated_at)}


def pos_customer_from_json(data: dict[str, Any]) -> PosCustomer:
    return PosCustomer(pos_id=str(data["pos_id"]), status=PosStatus(data["status"]),
                       customer=Customer.from_json(data["customer"]), created_at=_parse_dt(data.get("created_at")),
                       updated_at=_parse_dt(data.get("updated_at")))
