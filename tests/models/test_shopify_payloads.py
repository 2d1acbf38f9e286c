"""Webhook payload schemas: each acted-on topic parses to canonical values; bad input names the field."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from possync.adapters.shopify import webhooks as wh
from possync.models.customer import Address, ConsentState
from possync.models.shopify_payloads import (
    ACTED_TOPICS,
    ConsentPayload,
    CustomerDeletePayload,
    CustomerPayload,
    MergePayload,
    OrderPayload,
    PayloadError,
    PrivacyPayload,
    RefundPayload,
    ShopRedactPayload,
    parse_payload,
    shopify_id,
    split_tags,
)
from tests.fixtures import shopify_body


def parse(topic: str, payload: dict) -> object:
    return parse_payload(topic, json.dumps(payload).encode())


ADDRESS = wh.address_payload("150 Elgin St", "Ottawa", "ON", "K2P 1L4", "ca", address2="Suite 2", company="Acme")


def test_topics_acted_on_are_exactly_the_twelve() -> None:
    expected = {
        "orders/create", "orders/updated", "refunds/create", "customers/create", "customers/update",
        "customers/delete", "customers/merge", "customers_email_marketing_consent/update",
        "customers_marketing_consent/update", "customers/data_request", "customers/redact", "shop/redact",
    }
    assert expected == ACTED_TOPICS


@pytest.mark.parametrize("topic", ["customers/create", "customers/update"])
def test_customer_topics(topic: str) -> None:
    body = wh.customer_payload(
        706405506930370084, "Bob@Biller.com", "Bob", "Biller", "+16135551212",
        default_address=ADDRESS, state="enabled", updated_at="2026-07-10T12:00:00-04:00",
    )
    parsed = parse(topic, body)
    assert isinstance(parsed, CustomerPayload) and parsed.topic == topic
    assert parsed.customer_id == parsed.customer.id == "706405506930370084"
    customer = parsed.customer.customer
    assert (customer.first_name, customer.last_name) == ("Bob", "Biller")
    assert customer.email == "Bob@Biller.com" and customer.phone == "+16135551212"
    assert customer.billing_address == Address("150 Elgin St", "Suite 2", "Ottawa", "ON", "K2P 1L4", "CA", "Acme")
    assert customer.email_consent is None and customer.tags == ()  # not in 2025-01+ customer payloads
    assert parsed.customer.state == "enabled"
    assert parsed.customer.updated_at == datetime(2026, 7, 10, 16, 0, tzinfo=UTC)


def test_customer_fields_of_older_api_versions_are_read() -> None:
    body = wh.customer_payload(
        1, "a@b.co", tags=" VIP, wholesale ,vip,, ", orders_count=3, total_spent="199.50",
        email_marketing_consent={"state": "subscribed", "opt_in_level": "single_opt_in",
                                 "consent_updated_at": "2026-01-02T03:04:05"},
        sms_marketing_consent={"state": "UNSUBSCRIBED", "opt_in_level": None, "consent_updated_at": None},
    )
    shopify_customer = parse("customers/update", body).customer
    customer = shopify_customer.customer
    assert customer.tags == ("VIP", "wholesale")  # trimmed, blanks dropped, case-insensitive duplicates once
    assert customer.email_consent.state is ConsentState.SUBSCRIBED
    assert customer.email_consent.updated_at == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)  # naive = UTC
    assert customer.sms_consent.state is ConsentState.UNSUBSCRIBED
    assert shopify_customer.orders_count == 3 and shopify_customer.amount_spent == "199.50"


def test_blank_strings_are_no_value() -> None:
    customer = parse("customers/update", wh.customer_payload(1, email="", first_name="  ", phone=None)).customer
    assert customer.customer.email is None and customer.customer.first_name is None


def test_address_uses_province_name_when_there_is_no_code() -> None:
    address = wh.address_payload("1 Rue", "Paris", None, "75001", "FR", province="Île-de-France")
    customer = parse("customers/update", wh.customer_payload(1, default_address=address)).customer.customer
    assert customer.billing_address.province_code == "Île-de-France"


@pytest.mark.parametrize("topic", ["orders/create", "orders/updated"])
def test_order_topics(topic: str) -> None:
    shipping = wh.address_payload("9 Bank St", "Ottawa", "ON", "K1P 5N2", "CA")
    body = wh.order_payload(
        820982911946154508, wh.customer_payload(115310627314723954, "c@d.co", default_address=ADDRESS),
        email="checkout@d.co", phone="555-0100", source_name="pos", billing_address=ADDRESS,
        shipping_address=shipping,
    )
    parsed = parse(topic, body)
    assert isinstance(parsed, OrderPayload) and parsed.customer_id == "115310627314723954"
    order = parsed.order
    assert order.id == "820982911946154508" and order.is_pos_order
    assert order.email == "checkout@d.co" and order.phone == "555-0100"
    assert order.billing_address.address1 == "150 Elgin St" and order.shipping_address.address1 == "9 Bank St"
    assert order.customer.customer.email == "c@d.co"


@pytest.mark.parametrize("customer", [None, {}, "absent"])
def test_order_without_a_customer(customer: object) -> None:
    body = wh.order_payload(5, None, email="guest@x.co")
    if customer == "absent":
        del body["customer"]
    else:
        body["customer"] = customer
    parsed = parse("orders/create", body)
    assert parsed.order.customer is None and parsed.customer_id is None
    assert parsed.order.email == "guest@x.co"


def test_order_email_falls_back_to_contact_email() -> None:
    body = wh.order_payload(5, None)
    body["email"], body["contact_email"] = None, "contact@x.co"
    assert parse("orders/create", body).order.email == "contact@x.co"


def test_refund_names_its_order_only() -> None:
    parsed = parse("refunds/create", wh.refund_payload(order_id=820982911946154508, id=509562969))
    assert isinstance(parsed, RefundPayload)
    assert parsed.order_id == "820982911946154508" and parsed.refund_id == "509562969"
    assert parsed.customer_id is None


def test_customer_delete() -> None:
    parsed = parse("customers/delete", wh.customer_delete_payload(42))
    assert isinstance(parsed, CustomerDeletePayload) and parsed.customer_id == "42"


def test_merge_strips_gids() -> None:
    parsed = parse("customers/merge", wh.merge_payload(1, 2))
    assert isinstance(parsed, MergePayload)
    assert (parsed.kept_id, parsed.deleted_id, parsed.customer_id) == ("1", "2", "1")
    assert parsed.succeeded


def test_failed_merge_keeps_its_errors() -> None:
    parsed = parse("customers/merge", wh.merge_payload(1, 2, status="failed"))
    assert not parsed.succeeded and parsed.errors == ("merge_in_progress: Customer is already being merged",)


def test_email_consent_topic() -> None:
    body = wh.email_consent_payload(706405506930370084, "bob@biller.com", "unsubscribed", opt_in_level=None,
                                    consent_updated_at="2026-07-01T10:00:00Z")
    parsed = parse("customers_email_marketing_consent/update", body)
    assert isinstance(parsed, ConsentPayload) and parsed.channel == "email"
    assert parsed.customer_id == "706405506930370084" and parsed.contact == "bob@biller.com"
    assert parsed.consent.state is ConsentState.UNSUBSCRIBED
    assert parsed.consent.updated_at == datetime(2026, 7, 1, 10, tzinfo=UTC)


def test_sms_consent_topic_uses_id_not_customer_id() -> None:
    parsed = parse("customers_marketing_consent/update", wh.sms_consent_payload(7, "+16135551212", "subscribed"))
    assert parsed.channel == "sms" and parsed.customer_id == "7" and parsed.contact == "+16135551212"
    assert parsed.consent.state is ConsentState.SUBSCRIBED and parsed.opt_in_level == "single_opt_in"


def test_data_request_and_redact() -> None:
    request = parse("customers/data_request", wh.data_request_payload(191167, "john@example.com", "555-625-1199",
                                                                      [299938, 280263]))
    assert isinstance(request, PrivacyPayload) and request.customer_id == "191167"
    assert request.order_ids == ("299938", "280263") and request.data_request_id == "9999"
    redact = parse("customers/redact", wh.customer_redact_payload(191167, "john@example.com", orders=[1]))
    assert redact.customer_id == "191167" and redact.order_ids == ("1",) and redact.phone is None
    shop = parse("shop/redact", wh.shop_redact_payload("acme.myshopify.com"))
    assert isinstance(shop, ShopRedactPayload) and shop.shop_domain == "acme.myshopify.com" and shop.shop_id == "954889"


def test_unknown_fields_are_ignored() -> None:
    body = wh.customer_payload(1)
    body["brand_new_field_of_2027"] = {"nested": [1, 2, 3]}
    assert parse("customers/update", body).customer_id == "1"


# --- errors name the field --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("topic", "payload", "message"),
    [
        ("customers/update", {"email": "a@b.co"}, "id: Missing data for required field"),
        ("customers/update", {"id": "abc"}, "id: Not a valid Shopify id"),
        ("customers/update", {"id": True}, "id: Not a valid Shopify id"),
        ("customers/update", {"id": 1, "email": 5}, "email: Not a valid string"),
        ("customers/update", {"id": 1, "default_address": {"zip": 12345}}, "default_address.zip: Not a valid string"),
        ("customers/update", {"id": 1, "tags": 7}, "tags: Not a valid tag list"),
        ("customers/update", {"id": 1, "orders_count": "3"}, "orders_count: Not a valid integer"),
        ("customers/update", {"id": 1, "updated_at": "yesterday"}, "updated_at: Not a valid datetime"),
        ("orders/create", {"id": 1, "customer": {"email": "x@y.z"}}, "customer.id: Missing data for required field"),
        ("orders/create", {"id": 1, "customer": []}, "customer: Invalid input type"),
        ("orders/create", {"id": 1, "shipping_address": "home"}, "shipping_address: Invalid input type"),
        ("refunds/create", {"id": 1}, "order_id: Missing data for required field"),
        ("customers/merge", {"admin_graphql_api_customer_kept_id": "gid://shopify/Customer/1"},
         "admin_graphql_api_customer_deleted_id: Missing data for required field"),
        ("customers_email_marketing_consent/update",
         {"customer_id": 1, "email_marketing_consent": {"state": "maybe"}},
         "email_marketing_consent.state: Unknown consent state 'maybe'"),
        ("customers_marketing_consent/update", {"id": 1, "sms_marketing_consent": None},
         "sms_marketing_consent: Field may not be null"),
        ("customers/redact", {"customer": {"id": 1}, "orders_to_redact": [1, "x"]}, "orders_to_redact.1: Not a valid"),
    ],
)
def test_schema_failures_name_the_field(topic: str, payload: dict, message: str) -> None:
    with pytest.raises(PayloadError) as caught:
        parse(topic, payload)
    assert str(caught.value).startswith(message)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "body is not valid JSON"),
        (b"{'single': 'quotes'}", "body is not valid JSON"),
        (b"\xff\xfe\xfa", "body is not valid JSON"),
        (b"[" * 100_000 + b"]" * 100_000, "body is not valid JSON"),
        (b"[1, 2]", "body must be a JSON object, got list"),
        (b'"text"', "body must be a JSON object, got str"),
    ],
)
def test_bad_json_is_one_payload_error(body: bytes, message: str) -> None:
    with pytest.raises(PayloadError, match=message):
        parse_payload("orders/create", body)


def test_unknown_topic_is_a_key_error() -> None:
    with pytest.raises(KeyError):
        parse_payload("products/create", b"{}")


def test_shopify_id_forms() -> None:
    assert shopify_id(706405506930370084) == "706405506930370084"
    assert shopify_id("gid://shopify/Customer/706405506930370084") == "706405506930370084"
    assert shopify_id(" 0042 ") == "42"
    for bad in ("", "-1", "0", "gid://shopify/Customer/", "1e5", 1.5, None, [], "\uff11\uff12"):
        with pytest.raises(ValueError):
            shopify_id(bad)


def test_split_tags() -> None:
    assert split_tags("a, b,,A , c") == ("a", "b", "c")
    assert split_tags(["x ", " y", ""]) == ("x", "y")
    assert split_tags(None) == ()


# --- Shopify's own documented bodies (tests/fixtures/shopify/README.md) -------------------------
def test_shopifys_documented_example_bodies_parse() -> None:
    order = parse_payload("orders/create", shopify_body("orders/create"))
    assert isinstance(order, OrderPayload) and order.customer_id == "115310627314723954"
    assert order.order.id == "820982911946154508" and order.order.source_name == "web"
    assert order.order.customer is not None and order.order.customer.customer.email == "john@example.com"
    assert order.order.billing_address is not None and order.order.billing_address.city == "Shippington"

    for topic in ("customers/create", "customers/update"):
        customer = parse_payload(topic, shopify_body(topic))
        assert isinstance(customer, CustomerPayload) and customer.customer_id == "706405506930370084"
        assert customer.customer.customer.first_name == "Bob" and customer.customer.customer.email == "bob@biller.com"

    refund = parse_payload("refunds/create", shopify_body("refunds/create"))
    assert isinstance(refund, RefundPayload)
    assert (refund.refund_id, refund.order_id) == ("890088186047892319", "820982911946154508")

    redact = parse_payload("customers/redact", shopify_body("customers/redact"))
    assert isinstance(redact, PrivacyPayload) and redact.customer_id == "191167"
    assert redact.email == "john@example.com" and redact.order_ids == ("299938", "280263", "220458")

    consent = parse_payload("customers_email_marketing_consent/update",
                            shopify_body("customers_email_marketing_consent/update"))
    assert isinstance(consent, ConsentPayload) and consent.customer_id == "706405506930370084"
    assert consent.consent.state is ConsentState.NOT_SUBSCRIBED and consent.consent.updated_at is None
    assert consent.contact == "bob@biller.com"
