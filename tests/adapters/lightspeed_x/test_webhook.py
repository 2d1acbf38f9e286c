"""`customer.update` webhooks: the fake sends them as X-Series does, `parse_webhook` reads the id."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from urllib.parse import parse_qsl

import pytest

from possync.adapters.errors import BadResponseError
from possync.adapters.lightspeed_x import WebhookPayloadError, parse_webhook
from possync.adapters.lightspeed_x.fake import FakeServer

CUSTOMER_ID = "0af7b240-ab83-11e7-eddc-4023c64c85e5"


def _receive_one(send) -> tuple[dict[str, str], str]:  # type: ignore[no-untyped-def]
    """Run `send(url)` against a one-shot receiver on 127.0.0.1; return the form and content type."""
    got: dict[str, object] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers["Content-Length"])).decode()
            got["form"] = dict(parse_qsl(raw, keep_blank_values=True))
            got["type"] = self.headers["Content-Type"]
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.handle_request, daemon=True)
    thread.start()
    try:
        response = send(f"http://127.0.0.1:{server.server_port}/webhooks/lightspeed-x")
        assert response.status_code == 200
    finally:
        thread.join(5)
        server.server_close()
    return got["form"], got["type"]  # type: ignore[return-value]


def test_fake_delivers_form_encoded_v1_payload(fake: FakeServer) -> None:
    [cid] = fake.seed([{"first_name": "Ann", "last_name": "Lee", "physical_address_1": "1 Main"}])
    form, content_type = _receive_one(lambda url: fake.send_webhook(url, cid))
    assert content_type.startswith("application/x-www-form-urlencoded")
    assert form["type"] == "customer.update"
    payload = json.loads(form["payload"])
    assert payload["id"] == cid
    assert payload["physical_address1"] == "1 Main"  # the 1.0 shape, not 2.0's physical_address_1
    assert isinstance(payload["balance"], str)
    assert parse_webhook(form) == cid


def test_subscriptions_get_notified(fake: FakeServer) -> None:
    [cid] = fake.seed([{"first_name": "Ann", "last_name": "Lee"}])

    def subscribe_and_notify(url: str):  # type: ignore[no-untyped-def]
        fake.webhooks["w1"] = {"id": "w1", "type": "customer.update", "url": url, "active": True}
        [response] = fake.notify(cid)
        return response

    form, _ = _receive_one(subscribe_and_notify)
    assert parse_webhook(form) == cid


def test_payload_without_extra_fields_still_parses() -> None:
    assert parse_webhook({"payload": json.dumps({"id": CUSTOMER_ID, "name": "x"})}) == CUSTOMER_ID


@pytest.mark.parametrize(
    ("form", "reason"),
    [
        ({}, "missing"),
        ({"payload": ""}, "missing"),
        ({"payload": "{not json"}, "not JSON"),
        ({"payload": json.dumps([CUSTOMER_ID])}, "not an object"),
        ({"payload": json.dumps({"name": "Ann"})}, "payload.id"),
        ({"payload": json.dumps({"id": 12345})}, "payload.id"),
        ({"payload": json.dumps({"id": "../../admin"})}, "UUID"),
        ({"type": "sale.update", "payload": json.dumps({"id": CUSTOMER_ID})}, "sale.update"),
    ],
    ids=["no-payload", "empty-payload", "not-json", "json-list", "no-id", "id-number", "id-not-uuid", "other-type"],
)
def test_junk_deliveries_are_refused_with_a_reason(form: dict[str, str], reason: str) -> None:
    with pytest.raises(WebhookPayloadError, match=reason) as info:
        parse_webhook(form)
    assert isinstance(info.value, BadResponseError) and isinstance(info.value, ValueError)
