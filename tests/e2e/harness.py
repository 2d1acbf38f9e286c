"""The end-to-end stack: real PostgreSQL, real Redis, a real `possync worker` process, the receiver on a
real socket, and the vendor fakes. Tests drive it with signed webhooks and read POS state back."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
from werkzeug.serving import make_server

from adapters.fakes.server import FakeVendorServer
from adapters.heartland import FakeServer as HeartlandFake
from adapters.lightspeed_r import FakeServer as LightspeedRFake
from adapters.lightspeed_x import FakeServer as LightspeedXFake
from adapters.shopify.fake import FakeShopify
from adapters.shopify.webhooks import send_webhook
from models.db import session_scope
from models.tenant_file import validate_tenant_data
from models.tenants import apply_tenant

REPO = Path(__file__).resolve().parents[2]
SHOPIFY_TOKEN = "shpat_e2e"
KINDS = ("lightspeed-r", "lightspeed-x", "heartland")


def wait_for(predicate: Callable[[], Any], timeout: float = 20.0, interval: float = 0.1, what: str = "") -> Any:
    """Poll until `predicate()` is truthy; fail with `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or predicate}")
        time.sleep(interval)


class WorkerProcess:
    """`possync worker` in a subprocess, with the test's environment."""

    def __init__(self, env: dict[str, str], args: tuple[str, ...] = ("--concurrency", "2")) -> None:
        self.env = env
        self.args = args
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = Path(env.get("POSSYNC_E2E_LOG_DIR", "/tmp")) / f"possync-worker-{uuid.uuid4().hex[:6]}.log"

    def start(self) -> None:
        full = {k: v for k, v in os.environ.items() if not k.startswith("POSSYNC_")} | self.env
        self._out = self.log.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "worker.cli", "worker", "--loglevel", "WARNING", *self.args],
            cwd=REPO, env=full, stdout=self._out, stderr=subprocess.STDOUT, start_new_session=True,
        )

    def wait_ready(self, app: Any, timeout: float = 30.0) -> None:
        def ready() -> bool:
            assert self.proc is not None and self.proc.poll() is None, f"worker exited: {self.tail()}"
            return bool(app.control.ping(timeout=0.5))

        wait_for(ready, timeout, 0.2, "the worker to answer a ping")

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, sig)
            self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()
        self._out.close()

    def tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


class ServedApp:
    """A WSGI app on a real socket in a thread (the receiver under test)."""

    def __init__(self, app: Any) -> None:
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.port}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass
class Shop:
    """One tenant: its Shopify fake, its POS fake and the secret its webhooks are signed with."""

    name: str
    kind: str
    domain: str
    secret: str
    shopify: FakeShopify
    pos: FakeVendorServer
    receiver_url: str
    webhook_count: int = field(default=0)

    def send(self, topic: str, payload: dict[str, Any] | bytes, webhook_id: str | None = None) -> requests.Response:
        self.webhook_count += 1
        return send_webhook(f"{self.receiver_url}/webhooks/shopify", topic, payload, self.secret, self.domain,
                            webhook_id=webhook_id)


POS_TOKENS = {"lightspeed-r": "lsr-e2e-token", "lightspeed-x": "lsx-e2e-token", "heartland": "hl-e2e-token"}


def make_pos_fake(kind: str, *, rate_limited: bool = False) -> FakeVendorServer:
    token = POS_TOKENS[kind]
    if kind == "lightspeed-r":
        return LightspeedRFake(access_token=token, bucket_size=90 if rate_limited else None)
    if kind == "lightspeed-x":
        return LightspeedXFake(access_token=token, rate_limit=350 if rate_limited else None)
    return HeartlandFake(api_token=token, requests_per_window=10 if rate_limited else None)


def tenant_file(name: str, kind: str, shopify_url: str, pos: FakeVendorServer, secret: str,
                settings: dict[str, Any] | None = None) -> dict[str, Any]:
    pos_section: dict[str, Any] = {"kind": kind, "base_url": pos.url, "access_token": POS_TOKENS[kind]}
    if kind == "lightspeed-r":
        pos_section["account_id"] = pos.account_id
    elif kind == "lightspeed-x":
        pos_section["domain_prefix"] = pos.domain_prefix
    else:
        pos_section["subdomain"] = name
    return {
        "name": name,
        "account_name": f"{name}store",
        "shopify": {"shop_domain": f"{name}.myshopify.com", "access_token": SHOPIFY_TOKEN, "client_secret": secret,
                    "api_base_url": shopify_url},
        "pos": pos_section,
        "settings": settings or {},
    }


def add_tenant(database_url: str, key: str, data: dict[str, Any]) -> None:
    with session_scope(database_url) as session:
        apply_tenant(session, validate_tenant_data(json.loads(json.dumps(data))), key)
