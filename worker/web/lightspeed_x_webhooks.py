"""`POST /webhooks/lightspeed-x/<tenant>`: X-Series `customer.update` deliveries (SPEC rule 2).

X-Series signs nothing and sends a form-encoded `payload` in the API 1.0 shape, so the delivery is
only a hint: it is stored like a Shopify delivery (unique per body, so a resend does nothing) and
becomes a `push_to_shopify` job that re-reads the customer from the 2.0 API. Nothing in the body is
trusted, which is why an unsigned endpoint is safe: the worst a forger can do is trigger a re-read.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from datetime import UTC, datetime

from flask import Flask, Response, jsonify, request

from adapters.lightspeed_x.webhook import WebhookPayloadError, parse_webhook
from models.db import session_scope
from models.tables import EventStatus, PosKind
from models.tenants import get_tenant
from worker.web.event_store import DB_ERRORS, DatabaseUnavailable, EventStore

SOURCE = "lightspeed-x"
TOPIC = "customer.update"
NAME_RE = re.compile(r"^[a-z0-9-]{1,63}$")
MAX_BODY_BYTES = 256 * 1024


def register(app: Flask, database_url: str, enqueue: Callable[[int], None]) -> None:
    store = EventStore(database_url)

    @app.post("/webhooks/lightspeed-x/<tenant>")
    def lightspeed_x_webhook(tenant: str) -> tuple[Response, int]:
        if not NAME_RE.match(tenant):
            return jsonify({"error": "unknown tenant"}), 404
        raw = request.get_data(cache=True)
        if len(raw) > MAX_BODY_BYTES:
            return jsonify({"error": "body too large"}), 413
        try:
            with session_scope(database_url) as session:
                record = get_tenant(session, tenant)
                tenant_id = record.id if record is not None and record.pos_kind == PosKind.LIGHTSPEED_X else None
        except DB_ERRORS:
            return jsonify({"error": "storage unavailable, retry later"}), 503
        if tenant_id is None:
            return jsonify({"error": "unknown tenant"}), 404
        status, reason = EventStatus.RECEIVED, None
        try:
            parse_webhook(request.form)
        except WebhookPayloadError as exc:
            status, reason = EventStatus.FAILED, str(exc)
        values = {
            "tenant_id": tenant_id, "source": SOURCE, "topic": TOPIC, "body": raw, "status": status.value,
            "error": reason, "headers": {"Content-Type": request.content_type or ""},
            "webhook_id": hashlib.sha256(raw).hexdigest(), "received_at": datetime.now(UTC),
        }
        try:
            outcome = store.store(values, enqueue if status is EventStatus.RECEIVED else None)
        except DatabaseUnavailable:
            return jsonify({"error": "storage unavailable, retry later"}), 503
        return jsonify({"ok": True, "duplicate": outcome.event_id is None,
                        "stored_as": status.value}), 200
