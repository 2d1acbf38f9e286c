"""Fixtures for the receiver: a tenant in the test database and an app wired to a recording enqueue."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from possync.adapters.shopify.webhooks import webhook_headers
from possync.entry.web.app import create_app
from possync.models.db import get_sessionmaker
from possync.models.tenant_file import validate_tenant_data
from possync.models.tenants import apply_tenant

SHOP = "acme.myshopify.com"
CURRENT_SECRET = "shpss_current_secret"
PREVIOUS_SECRET = "shpss_previous_secret"


def tenant_file(shop: str = SHOP, secret: str = CURRENT_SECRET, previous: str | None = PREVIOUS_SECRET) -> dict:
    return validate_tenant_data(
        {
            "name": shop.split(".")[0],
            "account_name": "acmestore",
            "shopify": {
                "shop_domain": shop,
                "access_token": "shpat_test",
                "client_secret": secret,
                "previous_client_secret": previous,
            },
            "pos": {"kind": "lightspeed-r", "account_id": "1", "access_token": "pos-token"},
        }
    )


def add_tenant(db_url: str, key: str, **kwargs: Any) -> int:
    session = get_sessionmaker(db_url)()
    try:
        tenant, _ = apply_tenant(session, tenant_file(**kwargs), key)
        session.commit()
        return tenant.id
    finally:
        session.close()


class Recorder:
    """An `enqueue` that records ids, or raises like an unreachable broker when `fail` is set."""

    def __init__(self) -> None:
        self.ids: list[int] = []
        self.fail: Exception | None = None
        self.check: Callable[[int], None] | None = None

    def __call__(self, event_id: int, tenant_id: int | None = None) -> None:
        if self.check is not None:
            self.check(event_id)
        if self.fail is not None:
            raise self.fail
        self.ids.append(event_id)


@pytest.fixture
def tenant_id(db_url: str, secret_key: str) -> int:
    return add_tenant(db_url, secret_key)


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def app(db_url: str, secret_key: str, tenant_id: int, recorder: Recorder) -> Flask:
    return create_app(db_url, secret_key, recorder)


@pytest.fixture
def client(app: Flask) -> Iterator[FlaskClient]:
    with app.test_client() as c:
        yield c


def signed(body: bytes, topic: str = "orders/create", secret: str = CURRENT_SECRET, shop: str = SHOP,
           **kwargs: Any) -> dict[str, str]:
    return webhook_headers(body, topic, secret, shop, **kwargs)
