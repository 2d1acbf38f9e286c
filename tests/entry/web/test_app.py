"""Health, readiness and metrics endpoints, and a fuzz of the webhook endpoint: never a 5xx for bad input."""

from __future__ import annotations

import json
import string
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from possync.adapters.shopify.webhooks import sign
from possync.entry.web.app import create_app
from possync.models.shopify_payloads import ACTED_TOPICS
from tests.entry.web.conftest import CURRENT_SECRET, SHOP, Recorder, signed

CLOSED_DB = "postgresql://postgres@127.0.0.1:1/possync"


def test_healthz_answers_without_touching_the_database(secret_key: str, recorder: Recorder) -> None:
    client = create_app(CLOSED_DB, secret_key, recorder).test_client()
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json == {"status": "ok"}


def test_readyz_checks_database_and_broker(db_url: str, secret_key: str, recorder: Recorder) -> None:
    pings: list[int] = []
    ready = create_app(db_url, secret_key, recorder, broker_ping=lambda: pings.append(1)).test_client()
    response = ready.get("/readyz")
    assert response.status_code == 200
    assert response.json["database"] == "ok" and response.json["broker"] == "ok" and pings == [1]

    def down() -> None:
        raise ConnectionError("broker down")

    not_ready = create_app(db_url, secret_key, recorder, broker_ping=down).test_client().get("/readyz")
    assert not_ready.status_code == 503
    assert not_ready.json["database"] == "ok" and not_ready.json["broker"].startswith("unreachable")

    no_db = create_app(CLOSED_DB, secret_key, recorder, broker_ping=lambda: None).test_client().get("/readyz")
    assert no_db.status_code == 503 and no_db.json["database"].startswith("unreachable")


def test_metrics_exposes_the_possync_metrics(client: FlaskClient) -> None:
    body = b'{"id": 1}'
    client.post("/webhooks/shopify", data=body, headers=signed(body, topic="customers/delete"))
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.content_type.startswith("text/plain")
    text = response.data.decode()
    assert 'possync_webhook_events_total{result="accepted",topic="customers/delete"}' in text
    for name in ("possync_syncs_total", "possync_webhook_to_pos_seconds", "possync_pos_requests_total",
                 "possync_rate_limited_total", "possync_limiter_waits_total", "possync_failed_list_size",
                 "possync_queue_depth"):
        assert f"# TYPE {name} " in text


def test_metrics_in_multiprocess_mode(client: FlaskClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    response = client.get("/metrics")
    assert response.status_code == 200  # aggregated from the (here empty) shared directory


# --- fuzz: whatever arrives, the answer is never a 5xx -----------------------------------------------------
HEADER_TEXT = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=255, exclude_characters="\x7f"),
                      max_size=80)
HEADER_NAMES = st.sampled_from([
    "X-Shopify-Topic", "X-Shopify-Hmac-Sha256", "X-Shopify-Shop-Domain", "X-Shopify-Webhook-Id",
    "X-Shopify-API-Version", "X-Shopify-Triggered-At", "X-Shopify-Event-Id", "Content-Type", "X-Other",
])
TOPICS = st.one_of(st.sampled_from(sorted(ACTED_TOPICS)), st.text(alphabet=string.printable.strip(), max_size=40))
JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(
        st.sampled_from(["id", "customer", "email", "default_address", "order_id", "tags", "phone", "state",
                         "customer_id", "email_marketing_consent", "sms_marketing_consent", "zip", "x"]),
        children, max_size=5),
    max_leaves=12,
)
FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@FUZZ
@given(body=st.binary(max_size=2048), headers=st.dictionaries(HEADER_NAMES, HEADER_TEXT, max_size=9))
def test_fuzz_random_bytes_and_headers(app: Flask, body: bytes, headers: dict[str, str]) -> None:
    response = app.test_client().post("/webhooks/shopify", data=body, headers=headers)
    assert response.status_code < 500
    assert response.status_code in (200, 400, 401, 413)


@FUZZ
@given(body=st.binary(max_size=2048), topic=TOPICS, webhook_id=HEADER_TEXT)
def test_fuzz_signed_garbage(app: Flask, body: bytes, topic: str, webhook_id: str) -> None:
    headers = signed(body, topic=topic, webhook_id=webhook_id or None)
    response = app.test_client().post("/webhooks/shopify", data=body, headers=headers)
    assert response.status_code in (200, 400)


@FUZZ
@given(value=JSONISH, topic=st.sampled_from(sorted(ACTED_TOPICS)))
def test_fuzz_signed_json_of_the_wrong_shape(app: Flask, value: object, topic: str) -> None:
    body = json.dumps(value).encode()
    headers = signed(body, topic=topic)
    response = app.test_client().post("/webhooks/shopify", data=body, headers=headers)
    assert response.status_code == 200


def test_fuzz_helpers_sign_like_the_receiver_expects() -> None:
    # Guards the fuzz above: its signed requests must be the ones the receiver accepts.
    assert signed(b"{}")["X-Shopify-Hmac-Sha256"] == sign(b"{}", CURRENT_SECRET)
    assert signed(b"{}")["X-Shopify-Shop-Domain"] == SHOP


def test_metrics_behind_basic_auth_when_configured(db_url: str, secret_key: str, tenant_id: int,
                                                   recorder: Recorder) -> None:
    import base64

    client = create_app(db_url, secret_key, recorder, metrics_auth="prom:s3cret-pass").test_client()

    def basic(login: str) -> dict[str, str]:
        return {"Authorization": "Basic " + base64.b64encode(login.encode()).decode()}

    refused = client.get("/metrics")
    assert refused.status_code == 401 and refused.headers["WWW-Authenticate"].startswith("Basic")
    assert b"possync_" not in refused.data
    assert client.get("/metrics", headers=basic("prom:wrong")).status_code == 401
    assert client.get("/metrics", headers=basic("prom:s3cret-pass")).status_code == 200
    assert client.get("/healthz").status_code == 200  # probes need no login
