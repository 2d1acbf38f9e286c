"""`POST /webhooks/shopify`: verify, store, enqueue by id, answer. Nothing else runs in the request.

Order of work and why:
1. Size: a body over 1 MiB is refused (413) before it is read further.
2. Tenant and signature: HMAC-SHA256 of the raw bytes with the shop's client secret (or, during a
   rotation, the previous one). A missing or wrong signature and an unknown shop get the same 401
   body, so the receiver is not an oracle for which shops exist.
3. Store: the delivery becomes an `InboundEvent` row keyed by `X-Shopify-Webhook-Id` (unique), and is
   committed before anything else happens (SPEC rule 32: an acknowledged delivery is already stored).
   A repeated webhook id is a retry of a delivery already stored: 200 and nothing more. So is a
   repeated `X-Shopify-Event-Id` for the same shop and topic: a captured signed body sent again under
   a new webhook id, or a second subscription's delivery of the same merchant action.
4. Enqueue the event id after the commit (ARCHITECTURE principle 1). If the broker is down the row
   stays `received` and the sweeper enqueues it later; Shopify still gets its 200.

A signed body that is not JSON or fails its topic's schema is stored as `failed` with the reason and
answered 200: Shopify would only send the same bytes again. A topic possync does not act on is stored
as `ignored`. If the database cannot be reached the answer is 503, never a 200 for something unstored.
"""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime
from typing import Any

from flask import Request, Response, jsonify
from werkzeug.exceptions import ClientDisconnected, RequestEntityTooLarge

from possync.adapters.shopify.hmac import verify
from possync.entry.web.event_store import DB_ERRORS, DatabaseUnavailable, Enqueue, EventStore
from possync.entry.web.tenant_cache import TenantSecretsCache
from possync.models.crypto import SecretsError
from possync.models.shopify_payloads import ACTED_TOPICS, PayloadError, parse_payload
from possync.models.tables import EventStatus
from possync.worker import metrics
from possync.worker.logging import get_logger

log = get_logger("possync.web")

MAX_BODY_BYTES = 1024 * 1024  # 1 MiB; Shopify's largest order payloads are far below this
SOURCE = "shopify"
HMAC_HEADER = "X-Shopify-Hmac-Sha256"
# Headers kept with the event (exact names as Shopify documents them), for staleness checks and audit.
STORED_HEADERS = (
    "X-Shopify-Topic",
    "X-Shopify-Shop-Domain",
    "X-Shopify-Webhook-Id",
    "X-Shopify-API-Version",
    "X-Shopify-Triggered-At",
    "X-Shopify-Event-Id",
    "X-Shopify-Name",
    "X-Shopify-Sub-Topic",
)
MAX_HEADER_CHARS = 255
SHOP_RE = re.compile(r"^[a-z0-9][a-z0-9.-]{0,253}(:\d{1,5})?$")
WEBHOOK_ID_RE = re.compile(r"^[\x21-\x7e]{1,128}$")
TOPIC_RE = re.compile(r"^[A-Za-z0-9_./-]{1,128}$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

UNAUTHORIZED_BODY = {"error": "unauthorized"}


class _Reply(Exception):  # noqa: N818 - control flow, not an error
    """Ends the request early with a status, a JSON body and the metric result to count."""

    def __init__(self, status: int, body: dict[str, Any], result: str) -> None:
        super().__init__(result)
        self.status, self.body, self.result = status, body, result


class ShopifyWebhookReceiver:
    def __init__(
        self,
        database_url: str,
        secrets: TenantSecretsCache,
        enqueue: Enqueue,
        max_body: int = MAX_BODY_BYTES,
    ) -> None:
        self._events = EventStore(database_url)
        self._secrets = secrets
        self._enqueue = enqueue
        self._max_body = max_body

    def handle(self, request: Request) -> Response:
        started = time.perf_counter()
        topic = request.headers.get("X-Shopify-Topic")
        try:
            status, body, result = self._receive(request)
        except _Reply as reply:
            status, body, result = reply.status, reply.body, reply.result
        metrics.WEBHOOK_EVENTS.labels(metrics.topic_label(topic, ACTED_TOPICS), result).inc()
        metrics.WEBHOOK_REQUEST_SECONDS.observe(time.perf_counter() - started)
        response = jsonify(body)
        response.status_code = status
        return response

    # --- steps -----------------------------------------------------------------------------------
    def _receive(self, request: Request) -> tuple[int, dict[str, Any], str]:
        raw = self._read_body(request)
        tenant_id = self._authenticate(request, raw)
        webhook_id = request.headers.get("X-Shopify-Webhook-Id", "").strip()
        topic = request.headers.get("X-Shopify-Topic", "").strip()
        sender_event_id = request.headers.get("X-Shopify-Event-Id", "").strip()
        if not WEBHOOK_ID_RE.match(webhook_id):
            raise _Reply(400, {"error": "missing or malformed X-Shopify-Webhook-Id"}, "invalid")
        if not TOPIC_RE.match(topic):
            raise _Reply(400, {"error": "missing or malformed X-Shopify-Topic"}, "invalid")
        status, reason = self._classify(topic, raw)
        values = {
            "tenant_id": tenant_id,
            "source": SOURCE,
            "webhook_id": webhook_id,
            # Optional in Shopify's contract: absent or malformed, the webhook id alone de-duplicates.
            "sender_event_id": sender_event_id if WEBHOOK_ID_RE.match(sender_event_id) else None,
            "topic": topic,
            "headers": _stored_headers(request),
            "body": raw,
            "status": status.value,
            "error": reason,
            "received_at": datetime.now(UTC),
        }
        enqueue = self._enqueue if status is EventStatus.RECEIVED else None
        try:
            outcome = self._events.store(values, enqueue)
        except DatabaseUnavailable as exc:
            raise self._unavailable(exc.step, exc.cause) from None
        if outcome.event_id is None:
            return 200, {"ok": True, "duplicate": True}, "duplicate"
        if outcome.enqueue_error is not None:
            metrics.ENQUEUE_FAILURES.inc()
            log.warning("webhook_enqueue_failed", event_id=outcome.event_id,
                        error=type(outcome.enqueue_error).__name__)
        if status is EventStatus.RECEIVED:
            return 200, {"ok": True}, "accepted"
        if status is EventStatus.IGNORED:
            return 200, {"ok": True, "ignored": True}, "ignored"
        return 200, {"ok": True, "stored_as": "failed"}, "invalid"

    def _read_body(self, request: Request) -> bytes:
        too_large = _Reply(413, {"error": f"body over {self._max_body} bytes"}, "too_large")
        if request.content_length is not None and request.content_length > self._max_body:
            raise too_large
        chunks: list[bytes] = []
        size = 0
        try:
            while True:
                chunk = request.stream.read(65536)
                if not chunk:
                    break
                size += len(chunk)
                if size > self._max_body:
                    raise too_large
                chunks.append(chunk)
        except RequestEntityTooLarge:
            raise too_large from None
        except ClientDisconnected:
            raise _Reply(400, {"error": "incomplete body"}, "invalid") from None
        return b"".join(chunks)

    def _authenticate(self, request: Request, raw: bytes) -> int:
        """The tenant id when the shop is known and the signature matches; else the one 401."""
        unauthorized = _Reply(401, UNAUTHORIZED_BODY, "unauthorized")
        shop = request.headers.get("X-Shopify-Shop-Domain", "").strip().lower()
        signature = request.headers.get(HMAC_HEADER)
        if not signature or not SHOP_RE.match(shop):
            raise unauthorized
        try:
            entry = self._secrets.get(shop)
        except DB_ERRORS as exc:
            raise self._unavailable("tenant lookup", type(exc).__name__) from None
        except SecretsError:
            log.error("webhook_secrets_undecryptable", shop=shop)
            raise _Reply(503, {"error": "unavailable"}, "unavailable") from None
        if entry is None:
            raise unauthorized
        matched = verify(raw, signature, entry.secrets)
        if matched is None:
            raise unauthorized
        if matched > 0:
            log.debug("webhook_signed_with_previous_secret", shop=shop)  # fine during a rotation
        return entry.tenant_id

    @staticmethod
    def _classify(topic: str, raw: bytes) -> tuple[EventStatus, str | None]:
        if topic not in ACTED_TOPICS:
            return EventStatus.IGNORED, None
        try:
            parse_payload(topic, raw)
        except PayloadError as exc:
            return EventStatus.FAILED, _clean(str(exc), 500)
        return EventStatus.RECEIVED, None

    @staticmethod
    def _unavailable(step: str, error: str) -> _Reply:
        log.error("webhook_database_unavailable", step=step, error=error)
        return _Reply(503, {"error": "unavailable"}, "unavailable")


def _clean(value: str, limit: int = MAX_HEADER_CHARS) -> str:
    """No control characters (PostgreSQL text and JSONB refuse NUL), bounded length."""
    return _CONTROL.sub("", value)[:limit]


def _stored_headers(request: Request) -> dict[str, str]:
    stored = {}
    for name in STORED_HEADERS:
        value = request.headers.get(name)
        if value is not None:
            stored[name] = _clean(value.strip())
    return stored
