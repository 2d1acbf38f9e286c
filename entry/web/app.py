"""The HTTP receiver (INTERFACE.md, "HTTP"): Shopify webhooks, health, readiness, metrics and the console.

`create_app` takes its collaborators as arguments (database URL, secret key, an `enqueue(event_id, tenant_id)`
function, an optional broker ping) so tests, `possync serve`, gunicorn (`possync.entry.web.wsgi`) and the
benchmark each wire the same app to what they have.
"""

from __future__ import annotations

import hmac
import os
from collections.abc import Callable
from pathlib import Path

from flask import Flask, Response, jsonify, request
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest, multiprocess
from sqlalchemy import text

from possync.entry.web import console, lightspeed_x_webhooks
from possync.entry.web.event_store import DB_ERRORS, Enqueue
from possync.entry.web.shopify_webhooks import MAX_BODY_BYTES, ShopifyWebhookReceiver
from possync.entry.web.tenant_cache import DEFAULT_TTL_SECONDS, TenantSecretsCache
from possync.models.db import get_engine
from possync.worker.fairqueue import QueueDepth
from possync.worker.pipeline_metrics import PipelineCollector


def create_app(
    database_url: str,
    secret_key: str,
    enqueue: Enqueue,
    *,
    broker_ping: Callable[[], None] | None = None,
    secrets_ttl: float = DEFAULT_TTL_SECONDS,
    max_body: int = MAX_BODY_BYTES,
    queue_depths: Callable[[], dict[str, QueueDepth]] | None = None,
    console_auth: str | None = None,
    metrics_auth: str | None = None,
) -> Flask:
    """The receiver app. `broker_ping` raises when the broker is unreachable (None: not checked).
    `metrics_auth` (`user:password`) puts `/metrics` behind basic auth: it names every tenant.

    `console_auth` (`user:password`) serves the operator console at /console; None leaves it a 404.
    Tenants' signing secrets are cached per process for `secrets_ttl` seconds: a rotated client
    secret is used by every receiver process within that time (see `possync.entry.web.tenant_cache`).
    """
    # `possync` is a namespace over the repository's folders: Flask cannot find its paths by itself.
    here = Path(__file__).parent
    app = Flask("possync", root_path=str(here), instance_path=str(here / "instance"))
    # Werkzeug enforces this on the input stream too (chunked bodies have no Content-Length).
    app.config["MAX_CONTENT_LENGTH"] = max_body
    secrets = TenantSecretsCache(database_url, secret_key, ttl=secrets_ttl)
    receiver = ShopifyWebhookReceiver(database_url, secrets, enqueue, max_body=max_body)
    app.extensions["possync.secrets_cache"] = secrets

    @app.post("/webhooks/shopify")
    def shopify_webhook() -> Response:
        return receiver.handle(request)

    lightspeed_x_webhooks.register(app, database_url, secret_key, enqueue)
    console.register(app, database_url, secret_key, console_auth)
    pipeline = CollectorRegistry(auto_describe=False)
    pipeline.register(PipelineCollector(database_url, queue_depths))

    @app.get("/healthz")
    def healthz() -> Response:
        """Liveness: the process answers. No I/O, so a slow database never gets the pod killed."""
        return jsonify({"status": "ok"})

    @app.get("/readyz")
    def readyz() -> tuple[Response, int]:
        """Readiness: the database answers `SELECT 1` and the broker answers a ping."""
        checks: dict[str, str] = {}
        try:
            with get_engine(database_url).connect() as conn:
                conn.execute(text("SELECT 1"))
            checks["database"] = "ok"
        except DB_ERRORS as exc:
            checks["database"] = f"unreachable ({type(exc).__name__})"
        if broker_ping is None:
            checks["broker"] = "not checked"
        else:
            try:
                broker_ping()
                checks["broker"] = "ok"
            except Exception as exc:  # any failure of the ping means "not ready"
                checks["broker"] = f"unreachable ({type(exc).__name__})"
        ready = all(v in ("ok", "not checked") for v in checks.values())
        return jsonify({"status": "ready" if ready else "not ready", **checks}), 200 if ready else 503

    @app.get("/metrics")
    def metrics_view() -> Response:
        if metrics_auth and not _authorized(metrics_auth):
            return Response("login required\n", 401, {"WWW-Authenticate": 'Basic realm="possync metrics"'})
        return Response(generate_latest(_registry()) + generate_latest(pipeline), mimetype=CONTENT_TYPE_LATEST)

    return app


def _authorized(expected: str) -> bool:
    auth = request.authorization
    given = f"{auth.username}:{auth.password}" if auth and auth.type == "basic" else ""
    return hmac.compare_digest(given.encode(), expected.encode())


def _registry() -> CollectorRegistry:
    """The default registry, or under gunicorn (`PROMETHEUS_MULTIPROC_DIR` set) one that adds up every
    worker process's values from the shared directory."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return registry
    return REGISTRY
