"""`POST /webhooks/shopify` against a real PostgreSQL: every response path of the receiver."""

from __future__ import annotations

import io
import json

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient
from prometheus_client import REGISTRY

from possync.adapters.shopify.webhooks import customer_payload, order_payload, refund_payload
from possync.entry.web.app import create_app
from possync.models import tenants
from possync.models.db import get_sessionmaker
from possync.models.tables import EventStatus, InboundEvent
from tests.entry.web.conftest import PREVIOUS_SECRET, SHOP, Recorder, add_tenant, signed

URL = "/webhooks/shopify"
ORDER = json.dumps(order_payload(customer=customer_payload())).encode()


def events(db_url: str) -> list[InboundEvent]:
    session = get_sessionmaker(db_url)()
    try:
        return list(session.scalars(sa.select(InboundEvent).order_by(InboundEvent.id)))
    finally:
        session.close()


def count(topic: str, result: str) -> float:
    return REGISTRY.get_sample_value("possync_webhook_events_total", {"topic": topic, "result": result}) or 0.0


# --- accepted -----------------------------------------------------------------------------------------
def test_valid_delivery_is_stored_then_enqueued(client: FlaskClient, db_url: str, recorder: Recorder,
                                                tenant_id: int) -> None:
    seen_committed: list[bool] = []
    # The enqueue runs only after the commit: another session already sees the row.
    recorder.check = lambda event_id: seen_committed.append(any(e.id == event_id for e in events(db_url)))
    before = count("orders/create", "accepted")
    headers = signed(ORDER, webhook_id="wh-1", event_id="ev-1", triggered_at="2026-07-10T16:15:47.000000Z")

    response = client.post(URL, data=ORDER, headers=headers)

    assert response.status_code == 200
    [event] = events(db_url)
    assert recorder.ids == [event.id] and seen_committed == [True]
    assert event.status == EventStatus.ENQUEUED.value and event.enqueued_at is not None
    assert event.tenant_id == tenant_id and event.topic == "orders/create" and event.webhook_id == "wh-1"
    assert event.body == ORDER  # the raw bytes, not a re-serialisation
    assert event.headers["X-Shopify-Shop-Domain"] == SHOP
    assert event.headers["X-Shopify-Event-Id"] == "ev-1"
    assert event.headers["X-Shopify-Triggered-At"] == "2026-07-10T16:15:47.000000Z"
    assert event.headers["X-Shopify-API-Version"] == "2026-07"
    assert all("hmac" not in name.lower() for name in event.headers)  # the signature is not kept
    assert count("orders/create", "accepted") == before + 1


def test_previous_secret_is_accepted_during_rotation(client: FlaskClient, db_url: str, recorder: Recorder) -> None:
    response = client.post(URL, data=ORDER, headers=signed(ORDER, secret=PREVIOUS_SECRET))
    assert response.status_code == 200
    assert len(recorder.ids) == 1 and len(events(db_url)) == 1


def test_header_names_are_case_insensitive(client: FlaskClient, db_url: str) -> None:
    headers = {name.lower(): value for name, value in signed(ORDER).items()}  # as HTTP/2 sends them
    assert client.post(URL, data=ORDER, headers=headers).status_code == 200


def test_public_hmac_test_vector(db_url: str, secret_key: str, recorder: Recorder) -> None:
    # shopify-app-js validate.test.ts: secret `test_secret_key`, body `{"foo": "bar"}`.
    add_tenant(db_url, secret_key, shop="vector.myshopify.com", secret="test_secret_key", previous=None)
    body = b'{"foo": "bar"}'
    headers = signed(body, topic="shop/redact", shop="vector.myshopify.com", secret="not-used")
    headers["X-Shopify-Hmac-Sha256"] = "B23tXN681gZ0qIWNRrgtzBE9XSDo5yaUu6wfmhu3a7g="
    client = create_app(db_url, secret_key, recorder).test_client()

    assert client.post(URL, data=body, headers=headers).status_code == 200
    headers["X-Shopify-Hmac-Sha256"] = "C23tXN681gZ0qIWNRrgtzBE9XSDo5yaUu6wfmhu3a7g="
    headers["X-Shopify-Webhook-Id"] = "another-delivery"
    assert client.post(URL, data=body, headers=headers).status_code == 401


# --- unauthorized: one body for every cause -------------------------------------------------------------
def test_every_unauthorized_cause_gets_the_same_401(client: FlaskClient, db_url: str, recorder: Recorder) -> None:
    tampered = client.post(URL, data=ORDER.replace(b"Bob", b"Rob"), headers=signed(ORDER))
    wrong_secret = client.post(URL, data=ORDER, headers=signed(ORDER, secret="someone-elses-secret"))
    missing = signed(ORDER)
    del missing["X-Shopify-Hmac-Sha256"]
    no_signature = client.post(URL, data=ORDER, headers=missing)
    empty_signature = client.post(URL, data=ORDER, headers={**missing, "X-Shopify-Hmac-Sha256": ""})
    unknown_shop = client.post(URL, data=ORDER, headers=signed(ORDER, shop="stranger.myshopify.com"))
    no_shop = signed(ORDER)
    del no_shop["X-Shopify-Shop-Domain"]
    missing_shop = client.post(URL, data=ORDER, headers=no_shop)

    responses = [tampered, wrong_secret, no_signature, empty_signature, unknown_shop, missing_shop]
    assert {r.status_code for r in responses} == {401}
    assert len({r.data for r in responses}) == 1
    assert events(db_url) == [] and recorder.ids == []


# --- duplicates --------------------------------------------------------------------------------------------
def test_repeated_webhook_id_is_stored_and_enqueued_once(client: FlaskClient, db_url: str,
                                                         recorder: Recorder) -> None:
    headers = signed(ORDER, webhook_id="retry-me")
    before = count("orders/create", "duplicate")

    first = client.post(URL, data=ORDER, headers=headers)
    second = client.post(URL, data=ORDER, headers=headers)

    assert first.status_code == second.status_code == 200
    assert second.json.get("duplicate") is True
    assert len(events(db_url)) == 1 and len(recorder.ids) == 1
    assert count("orders/create", "duplicate") == before + 1


def test_same_webhook_id_from_another_delivery_body_is_still_a_duplicate(client: FlaskClient, db_url: str) -> None:
    # Shopify retries carry the original payload; the id alone decides.
    other = json.dumps(refund_payload(order_id=1)).encode()
    client.post(URL, data=ORDER, headers=signed(ORDER, webhook_id="same"))
    response = client.post(URL, data=other, headers=signed(other, topic="refunds/create", webhook_id="same"))
    assert response.status_code == 200 and len(events(db_url)) == 1


def test_a_signed_body_replayed_under_a_new_webhook_id_is_a_duplicate(client: FlaskClient, db_url: str,
                                                                      recorder: Recorder) -> None:
    """A captured delivery sent again with a fresh X-Shopify-Webhook-Id but Shopify's X-Shopify-Event-Id:
    200 (nothing to retry), no second row, no second job."""
    first = client.post(URL, data=ORDER, headers=signed(ORDER, webhook_id="wh-original", event_id="ev-42"))
    replay = client.post(URL, data=ORDER, headers=signed(ORDER, webhook_id="wh-forged", event_id="ev-42"))
    assert first.status_code == replay.status_code == 200
    assert replay.json.get("duplicate") is True
    assert [e.webhook_id for e in events(db_url)] == ["wh-original"] and len(recorder.ids) == 1
    assert events(db_url)[0].sender_event_id == "ev-42"


def test_one_event_id_under_two_topics_is_two_deliveries(client: FlaskClient, db_url: str) -> None:
    """One merchant action may reach several topics under one event id: each topic is its own delivery."""
    customer = json.dumps(customer_payload()).encode()
    client.post(URL, data=ORDER, headers=signed(ORDER, webhook_id="wh-a", event_id="ev-7"))
    response = client.post(URL, data=customer, headers=signed(customer, topic="customers/update", webhook_id="wh-b",
                                                               event_id="ev-7"))
    assert response.status_code == 200 and "duplicate" not in response.json
    assert [e.topic for e in events(db_url)] == ["orders/create", "customers/update"]


def test_deliveries_without_an_event_id_are_told_apart_by_webhook_id(client: FlaskClient, db_url: str) -> None:
    for webhook_id in ("wh-1", "wh-2"):
        headers = signed(ORDER, webhook_id=webhook_id)
        del headers["X-Shopify-Event-Id"]  # optional in Shopify's contract
        assert client.post(URL, data=ORDER, headers=headers).status_code == 200
    assert [(e.webhook_id, e.sender_event_id) for e in events(db_url)] == [("wh-1", None), ("wh-2", None)]


# --- size --------------------------------------------------------------------------------------------------
def test_body_over_one_mebibyte_is_413(client: FlaskClient, db_url: str, recorder: Recorder) -> None:
    body = b'{"id": 1, "pad": "' + b"x" * (1024 * 1024) + b'"}'
    response = client.post(URL, data=body, headers=signed(body))
    assert response.status_code == 413
    assert events(db_url) == [] and recorder.ids == []


def test_body_without_content_length_is_limited_on_read(client: FlaskClient, db_url: str) -> None:
    body = b'{"id": 1, "pad": "' + b"x" * (1024 * 1024) + b'"}'
    headers = signed(body)
    # A chunked request has no Content-Length: only the read itself can notice the size.
    chunked = {"wsgi.input_terminated": True, "HTTP_TRANSFER_ENCODING": "chunked"}
    response = client.post(URL, input_stream=io.BytesIO(body), headers=headers, environ_overrides=chunked)
    assert response.status_code == 413
    small = client.post(URL, input_stream=io.BytesIO(ORDER), headers=signed(ORDER), environ_overrides=chunked)
    assert small.status_code == 200  # the same path reads a normal body whole
    assert len(events(db_url)) == 1  # only the small one was stored


def test_body_at_the_limit_is_accepted(db_url: str, secret_key: str, tenant_id: int, recorder: Recorder) -> None:
    app = create_app(db_url, secret_key, recorder, max_body=len(ORDER))
    response = app.test_client().post(URL, data=ORDER, headers=signed(ORDER))
    assert response.status_code == 200


# --- broker and database outages ------------------------------------------------------------------------------
def test_broker_outage_still_answers_200_and_leaves_the_row_received(client: FlaskClient, db_url: str,
                                                                     recorder: Recorder) -> None:
    recorder.fail = ConnectionError("redis down")
    response = client.post(URL, data=ORDER, headers=signed(ORDER))
    assert response.status_code == 200
    [event] = events(db_url)
    assert event.status == EventStatus.RECEIVED.value and event.enqueued_at is None


def test_unreachable_database_is_503_and_nothing_is_enqueued(secret_key: str, recorder: Recorder) -> None:
    closed = "postgresql://postgres@127.0.0.1:1/possync"
    client = create_app(closed, secret_key, recorder).test_client()
    before = count("orders/create", "unavailable")

    response = client.post(URL, data=ORDER, headers=signed(ORDER))

    assert response.status_code == 503 and recorder.ids == []
    assert count("orders/create", "unavailable") == before + 1
    assert client.get("/readyz").status_code == 503


def test_database_lost_after_the_tenant_was_cached_is_503(db_url: str, secret_key: str, tenant_id: int,
                                                          recorder: Recorder, monkeypatch: pytest.MonkeyPatch) -> None:
    client = create_app(db_url, secret_key, recorder).test_client()
    assert client.post(URL, data=ORDER, headers=signed(ORDER)).status_code == 200  # tenant now cached

    from possync.entry.web import event_store
    from possync.models.db import get_engine

    closed = "postgresql://postgres@127.0.0.1:1/possync"
    monkeypatch.setattr(event_store, "get_engine", lambda url: get_engine(closed))
    response = client.post(URL, data=ORDER, headers=signed(ORDER))
    assert response.status_code == 503
    assert len(recorder.ids) == 1


# --- signed but wrong ---------------------------------------------------------------------------------------
def test_signed_invalid_json_is_stored_failed_and_not_enqueued(client: FlaskClient, db_url: str,
                                                               recorder: Recorder) -> None:
    body = b'{"id": 1, '
    response = client.post(URL, data=body, headers=signed(body))
    assert response.status_code == 200
    [event] = events(db_url)
    assert event.status == EventStatus.FAILED.value and "JSON" in event.error
    assert recorder.ids == []


def test_signed_schema_failure_is_stored_failed_with_the_field(client: FlaskClient, db_url: str,
                                                               recorder: Recorder) -> None:
    body = json.dumps(order_payload(customer=customer_payload(email=["not", "a", "string"]))).encode()
    response = client.post(URL, data=body, headers=signed(body))
    assert response.status_code == 200
    [event] = events(db_url)
    assert event.status == EventStatus.FAILED.value
    assert event.error.startswith("customer.email:")
    assert recorder.ids == []


def test_topic_not_acted_on_is_stored_ignored(client: FlaskClient, db_url: str, recorder: Recorder) -> None:
    body = b'{"id": 632910392, "title": "IPod Nano"}'
    response = client.post(URL, data=body, headers=signed(body, topic="products/create"))
    assert response.status_code == 200
    [event] = events(db_url)
    assert event.status == EventStatus.IGNORED.value and event.topic == "products/create"
    assert recorder.ids == []


def test_signed_delivery_without_webhook_id_is_400(client: FlaskClient, db_url: str) -> None:
    headers = signed(ORDER)
    del headers["X-Shopify-Webhook-Id"]
    assert client.post(URL, data=ORDER, headers=headers).status_code == 400
    assert events(db_url) == []


# --- secrets cache -----------------------------------------------------------------------------------------
def test_rotated_secret_takes_effect_after_the_cache_ttl(db_url: str, secret_key: str, tenant_id: int,
                                                         recorder: Recorder, monkeypatch: pytest.MonkeyPatch) -> None:
    # The rotation is applied by another process (`possync tenant apply`): this one hears nothing of it.
    monkeypatch.setattr(tenants, "_announce_after_commit", lambda session, shop: None)
    app = create_app(db_url, secret_key, recorder, secrets_ttl=3600)
    client = app.test_client()
    assert client.post(URL, data=ORDER, headers=signed(ORDER)).status_code == 200
    add_tenant(db_url, secret_key, secret="brand-new-secret", previous=None)

    stale = client.post(URL, data=ORDER, headers=signed(ORDER, secret="brand-new-secret"))
    assert stale.status_code == 401  # still the cached secrets: the TTL has not passed

    app.extensions["possync.secrets_cache"].invalidate()  # what the TTL's expiry does
    fresh = client.post(URL, data=ORDER, headers=signed(ORDER, secret="brand-new-secret"))
    assert fresh.status_code == 200


def test_embedded_sqlite_database_works_the_same(sqlite_url: str, secret_key: str, recorder: Recorder) -> None:
    # `possync demo` runs the receiver on SQLite: same dedup (ON CONFLICT), same statuses.
    add_tenant(sqlite_url, secret_key)
    client = create_app(sqlite_url, secret_key, recorder).test_client()
    headers = signed(ORDER, webhook_id="sqlite-1")
    assert client.post(URL, data=ORDER, headers=headers).status_code == 200
    again = client.post(URL, data=ORDER, headers=headers)
    assert again.status_code == 200 and again.json.get("duplicate") is True
    [event] = events(sqlite_url)
    assert event.status == EventStatus.ENQUEUED.value and recorder.ids == [event.id]
