"""`POST /webhooks/lightspeed-x/<tenant>/<token>`: X-Series `customer.update` deliveries (SPEC rule 2).

X-Series signs nothing and sends a form-encoded `payload` in the API 1.0 shape, so the delivery is
only a hint: it is stored like a Shopify delivery (unique per body, so a resend does nothing) and
becomes a `push_to_shopify` job that re-reads the customer from the 2.0 API. Every re-read spends the
tenant's X-Series budget, so hints are bounded three ways:
- the URL carries a per-tenant secret (`possync.models.webhook_tokens`); an unknown tenant and a wrong token
  get the same 404, so the endpoint neither stores a stranger's post nor tells which tenants exist;
- one pending hint per customer (a partial unique index): a second one while it waits is a duplicate;
- at most `MAX_PENDING_HINTS` pending per tenant; past that a hint is dropped (the change poll, which
  reads every change anyway, is the backstop).
"""

from __future__ import annotations

import hashlib
import re
import threading
import time
from datetime import UTC, datetime

from flask import Flask, Response, jsonify, request
from sqlalchemy import func, select

from possync.adapters.lightspeed_x.webhook import WebhookPayloadError, parse_webhook
from possync.entry.web.event_store import DB_ERRORS, DatabaseUnavailable, Enqueue, EventStore
from possync.models import webhook_tokens
from possync.models.crypto import SecretsError
from possync.models.db import session_scope
from possync.models.tables import EventStatus, InboundEvent, PosKind, Tenant

SOURCE = "lightspeed-x"
TOPIC = "customer.update"
NAME_RE = re.compile(r"^[a-z0-9-]{1,63}$")
MAX_BODY_BYTES = 256 * 1024
MAX_PENDING_HINTS = 1000
TOKENS_TTL_SECONDS = 5.0  # a new or rotated token is accepted by every receiver process within this time
NOT_FOUND = {"error": "not found"}


class TokenCache:
    """X-Series tenants' webhook tokens, read in one query and kept for a few seconds per process, so a
    flood of forged posts costs a dictionary lookup each, not a database round trip and a decryption."""

    def __init__(self, database_url: str, secret_key: str, ttl: float = TOKENS_TTL_SECONDS) -> None:
        self._database_url = database_url
        self._secret_key = secret_key
        self._ttl = ttl
        self._lock = threading.Lock()
        self._expires = 0.0
        self._stored: dict[str, tuple[int, str | None]] = {}
        self._clear: dict[str, str] = {}  # ciphertext -> token

    def tenant_for(self, name: str, token: str) -> int | None:
        """The tenant id when `token` is that X-Series tenant's, else None (unknown and wrong alike).
        Raises a DB error when the tokens cannot be read."""
        entry = self._tokens().get(name)
        if entry is None:
            return None
        tenant_id, stored = entry
        return tenant_id if webhook_tokens.matches(self._reveal(stored), token) else None

    def _tokens(self) -> dict[str, tuple[int, str | None]]:
        with self._lock:
            if time.monotonic() >= self._expires:
                with session_scope(self._database_url) as session:
                    self._stored = {name: (tenant_id, stored) for tenant_id, name, stored in session.execute(
                        select(Tenant.id, Tenant.name, Tenant.webhook_token)
                        .where(Tenant.pos_kind == PosKind.LIGHTSPEED_X.value))}
                self._expires = time.monotonic() + self._ttl
            return self._stored

    def _reveal(self, stored: str | None) -> str | None:
        if stored is None:
            return None
        if stored not in self._clear:
            try:
                self._clear[stored] = webhook_tokens.reveal(stored, self._secret_key)
            except SecretsError:
                return None  # a key that cannot read it accepts nothing
            if len(self._clear) > 10 * max(len(self._stored), 100):
                self._clear.clear()  # rotated tokens pile up otherwise
                return self._reveal(stored)
        return self._clear[stored]


def _pending_hints(database_url: str, tenant_id: int) -> int:
    pending = (select(InboundEvent.id).where(InboundEvent.tenant_id == tenant_id, InboundEvent.source == SOURCE,
                                             _PENDING).limit(MAX_PENDING_HINTS).subquery())
    with session_scope(database_url) as session:
        return session.scalar(select(func.count()).select_from(pending)) or 0


# The predicate of the partial index `ux_inbound_events_pending_hint`, so the count reads that index.
_PENDING = InboundEvent.hint_subject.is_not(None) & InboundEvent.status.in_(
    [EventStatus.RECEIVED.value, EventStatus.ENQUEUED.value])


def register(app: Flask, database_url: str, secret_key: str, enqueue: Enqueue) -> None:
    store = EventStore(database_url)
    tokens = TokenCache(database_url, secret_key)

    @app.post("/webhooks/lightspeed-x/<tenant>")
    def lightspeed_x_without_token(tenant: str) -> tuple[Response, int]:
        return jsonify(NOT_FOUND), 404  # the URL form before tokens: as for a wrong token

    @app.post("/webhooks/lightspeed-x/<tenant>/<token>")
    def lightspeed_x_webhook(tenant: str, token: str) -> tuple[Response, int]:
        if not NAME_RE.match(tenant):
            return jsonify(NOT_FOUND), 404
        try:
            tenant_id = tokens.tenant_for(tenant, token)
        except DB_ERRORS:
            return jsonify({"error": "storage unavailable, retry later"}), 503
        if tenant_id is None:
            return jsonify(NOT_FOUND), 404
        raw = request.get_data(cache=True)
        if len(raw) > MAX_BODY_BYTES:
            return jsonify({"error": "body too large"}), 413
        status, reason, customer = EventStatus.RECEIVED, None, None
        try:
            customer = parse_webhook(request.form)
        except WebhookPayloadError as exc:
            status, reason = EventStatus.FAILED, str(exc)
        try:
            if customer is not None and _pending_hints(database_url, tenant_id) >= MAX_PENDING_HINTS:
                return jsonify({"ok": True, "duplicate": False, "stored_as": "dropped"}), 200
        except DB_ERRORS:
            return jsonify({"error": "storage unavailable, retry later"}), 503
        values = {
            "tenant_id": tenant_id, "source": SOURCE, "topic": TOPIC, "body": raw, "status": status.value,
            "error": reason, "headers": {"Content-Type": request.content_type or ""},
            "webhook_id": hashlib.sha256(raw).hexdigest(), "received_at": datetime.now(UTC),
            "hint_subject": customer,
        }
        try:
            outcome = store.store(values, enqueue if status is EventStatus.RECEIVED else None)
        except DatabaseUnavailable:
            return jsonify({"error": "storage unavailable, retry later"}), 503
        return jsonify({"ok": True, "duplicate": outcome.event_id is None,
                        "stored_as": status.value}), 200
