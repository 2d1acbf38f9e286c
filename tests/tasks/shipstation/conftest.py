"""A tenant with a ShipStation block over the ShipStation, Shopify and Heartland fakes; real PostgreSQL and Redis."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy.orm import Session

from possync.adapters.fakes.server import FakeVendorServer
from possync.adapters.shipstation.fake import FakeShipStation
from possync.adapters.shopify.fake import FakeShopify
from possync.models.tenant_file import validate_tenant_data
from possync.models.tenants import apply_tenant
from testing.stack import SHOPIFY_TOKEN, make_pos_fake, tenant_file

TAG_RULES = {"vip": "VIP", "Wholesale": "B2B"}
MADRID = {"address1": "Calle Mayor 1", "city": "Madrid", "provinceCode": "M", "zip": "28013", "countryCode": "ES"}


@dataclass
class Ship:
    name: str
    tenant_id: int
    shipstation: FakeShipStation
    shopify: FakeShopify
    pos: FakeVendorServer

    def shopify_customer(self, first: str, email: str | None, *, tags: tuple[str, ...] = (),
                         address: dict[str, Any] | None = None, updated_at: str | None = None, **more: Any) -> str:
        customer_id = self.shopify.add_customer(first, "Ruiz", email, tags=tags, address=address, **more)
        if updated_at is not None:
            self.shopify._customers[customer_id]["updated_at"] = updated_at
        return customer_id


def make_ship(session: Session, secret_key: str, *, limit: int | None = None, window_seconds: float = 60.0) -> Ship:
    shipstation = FakeShipStation("ss-key", "ss-secret-0123456789", limit=limit, window_seconds=window_seconds)
    shopify, pos = FakeShopify(SHOPIFY_TOKEN, maximum_available=None), make_pos_fake("heartland")
    for fake in (shipstation, shopify, pos):
        fake.start()
    name = f"ss{uuid.uuid4().hex[:8]}"
    data = tenant_file(name, "heartland", shopify.url, pos, "s")
    data["shipstation"] = {"api_key": "ss-key", "api_secret": "ss-secret-0123456789", "base_url": shipstation.url,
                           "tag_rules": TAG_RULES}
    tenant, _ = apply_tenant(session, validate_tenant_data(data), secret_key)
    session.commit()
    return Ship(name, tenant.id, shipstation, shopify, pos)


@pytest.fixture
def ship(onboarding_env: str, session: Session, secret_key: str) -> Iterator[Ship]:
    made = make_ship(session, secret_key)
    yield made
    for fake in (made.shipstation, made.shopify, made.pos):
        fake.stop()
