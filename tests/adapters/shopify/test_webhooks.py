"""Sending webhooks as Shopify does, and the payload builders' bodies parsing under their topics."""

from __future__ import annotations

import json

import pytest

from possync.adapters.shopify import webhooks as wh
from possync.adapters.shopify.hmac import verify
from possync.models.shopify_payloads import ACTED_TOPICS, parse_payload
from tests.adapters.shopify.conftest import Capture

REQUIRED = ("X-Shopify-Topic", "X-Shopify-Hmac-Sha256", "X-Shopify-Shop-Domain", "X-Shopify-API-Version",
            "X-Shopify-Webhook-Id", "X-Shopify-Triggered-At", "X-Shopify-Event-Id")


def test_send_webhook_signs_the_exact_bytes_with_every_header(capture: Capture) -> None:
    url = f"http://127.0.0.1:{capture.server.port}/hook"
    response = wh.send_webhook(url, "customers/update", wh.customer_payload(1), "s3cret", "acme.myshopify.com",
                               webhook_id="wh-42")
    assert response.status_code == 200
    [(headers, body)] = capture.received
    for name in REQUIRED:
        assert headers.get(name), name
    assert headers["X-Shopify-Topic"] == "customers/update"
    assert headers["X-Shopify-Shop-Domain"] == "acme.myshopify.com"
    assert headers["X-Shopify-Webhook-Id"] == "wh-42" and headers["X-Shopify-API-Version"] == "2026-07"
    assert headers["Content-Type"] == "application/json"
    assert headers["X-Shopify-Triggered-At"].endswith("Z")
    assert verify(body, headers["X-Shopify-Hmac-Sha256"], ["s3cret"]) == 0
    assert json.loads(body)["id"] == 1


def test_bytes_are_sent_unchanged_and_ids_are_fresh_per_delivery(capture: Capture) -> None:
    url = f"http://127.0.0.1:{capture.server.port}/hook"
    raw = b'{"foo": "bar"}'
    wh.send_webhook(url, "shop/redact", raw, "test_secret_key", "acme.myshopify.com")
    wh.send_webhook(url, "shop/redact", raw, "test_secret_key", "acme.myshopify.com")
    (first, body), (second, _) = capture.received
    assert body == raw
    assert first["X-Shopify-Hmac-Sha256"] == "B23tXN681gZ0qIWNRrgtzBE9XSDo5yaUu6wfmhu3a7g="
    assert first["X-Shopify-Webhook-Id"] != second["X-Shopify-Webhook-Id"]
    assert first["X-Shopify-Event-Id"] != second["X-Shopify-Event-Id"]


BUILT = {
    "orders/create": lambda: wh.order_payload(customer=wh.customer_payload(default_address=wh.address_payload())),
    "orders/updated": lambda: wh.order_payload(customer=None, email="guest@example.com"),
    "refunds/create": lambda: wh.refund_payload(order_id=820982911946154508),
    "customers/create": lambda: wh.customer_payload(phone="+16135551212"),
    "customers/update": lambda: wh.customer_payload(default_address=wh.address_payload()),
    "customers/delete": lambda: wh.customer_delete_payload(706405506930370084),
    "customers/merge": lambda: wh.merge_payload(1, 2),
    "customers_email_marketing_consent/update": lambda: wh.email_consent_payload(1, "a@b.co", "not_subscribed"),
    "customers_marketing_consent/update": lambda: wh.sms_consent_payload(1, "+16135551212", "pending"),
    "customers/data_request": lambda: wh.data_request_payload(191167, "john@example.com", orders=[299938]),
    "customers/redact": lambda: wh.customer_redact_payload(191167, "john@example.com", orders=[299938]),
    "shop/redact": lambda: wh.shop_redact_payload(),
}


def test_a_builder_for_every_topic() -> None:
    assert set(BUILT) == ACTED_TOPICS


@pytest.mark.parametrize("topic", sorted(BUILT))
def test_built_payloads_parse_under_their_topic(topic: str) -> None:
    parsed = parse_payload(topic, json.dumps(BUILT[topic]()).encode())
    assert parsed.topic == topic


def test_order_payload_shapes() -> None:
    body = wh.order_payload(5, wh.customer_payload(9, email="c@d.co"))
    assert body["email"] == body["contact_email"] == "c@d.co"
    assert body["admin_graphql_api_id"] == "gid://shopify/Order/5"
    assert wh.order_payload(5, None)["customer"] is None
    refund = wh.refund_payload(order_id=5)
    assert "customer" not in refund and "email" not in refund  # refunds carry no customer
