"""The end-to-end stack: real PostgreSQL, real Redis, a real `possync worker` process, the receiver on a
real socket, and the vendor fakes. Tests drive it with signed webhooks and read POS state back."""

from __future__ import annotations

import json
import os
import signal
from dataclasses import dataclass, field
from typing import Any

import requests

import testing.stack as shared_stack
from possync.adapters.fakes.server import FakeVendorServer
from possync.adapters.shopify.fake import FakeShopify
from possync.adapters.shopify.webhooks import send_webhook
from possync.models.db import session_scope
from possync.models.tenant_file import validate_tenant_data
from possync.models.tenants import apply_tenant

SHOPIFY_TOKEN = shared_stack.SHOPIFY_TOKEN
ServedApp = shared_stack.ServedApp
tenant_file = shared_stack.tenant_file
wait_for = shared_stack.wait_for
KINDS = ("lightspeed-r", "lightspeed-x", "heartland")


class WorkerProcess(shared_stack.WorkerProcess):
    """`possync worker` in a subprocess with the test's environment (testing.stack's, plus SIGKILL)."""

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, sig)
            self.proc.wait(timeout=30)


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


# Vendor limits the fakes enforce when a test asks for them (documented defaults; off otherwise).
VENDOR_LIMITS = {"lightspeed-r": {"bucket_size": 90}, "lightspeed-x": {"rate_limit": 350},
                 "heartland": {"requests_per_window": 10}}


def make_pos_fake(kind: str, *, rate_limited: bool = False) -> FakeVendorServer:
    return shared_stack.make_pos_fake(kind, **(VENDOR_LIMITS[kind] if rate_limited else {}))


def add_tenant(database_url: str, key: str, data: dict[str, Any]) -> None:
    with session_scope(database_url) as session:
        apply_tenant(session, validate_tenant_data(json.loads(json.dumps(data))), key)
