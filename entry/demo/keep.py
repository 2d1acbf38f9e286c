"""`possync demo --keep-running`: leave the receiver and the worker up, and print curl lines to try.

The webhook line is a real delivery: its body is printed byte for byte and its HMAC is computed over
those bytes with the demo tenant's client secret (the secret itself is not printed). The customer it
names is added to the Shopify sandbox first, so the worker has someone to fetch and sync.
"""

from __future__ import annotations

import json
import shlex
import signal
import time
import uuid

from possync.adapters.shopify.hmac import sign
from possync.adapters.shopify.webhooks import customer_payload
from possync.entry.demo.script import OTTAWA
from possync.entry.demo.shops import DemoShop
from possync.entry.demo.stack import EmbeddedStack
from possync.models.shopify_values import SHOPIFY_API_VERSION


def webhook_curl(receiver_url: str, shop: DemoShop, topic: str, payload: dict[str, object]) -> str:
    """A pasteable curl of one signed Shopify delivery (JSON without single quotes, so it quotes safely)."""
    body = json.dumps(payload, separators=(",", ":"))
    headers = {
        "Content-Type": "application/json",
        "X-Shopify-Topic": topic,
        "X-Shopify-Shop-Domain": shop.domain,
        "X-Shopify-Webhook-Id": str(uuid.uuid4()),
        "X-Shopify-API-Version": SHOPIFY_API_VERSION,
        "X-Shopify-Hmac-Sha256": sign(body.encode("utf-8"), shop.secret),
    }
    parts = [f"curl -s -w ' HTTP %{{http_code}}\\n' -X POST {receiver_url}/webhooks/shopify"]
    parts += [f"-H {shlex.quote(f'{name}: {value}')}" for name, value in headers.items()]
    parts.append(f"--data-binary {shlex.quote(body)}")
    return " \\\n  ".join(parts)


def keep_serving(stack: EmbeddedStack, shops: list[DemoShop]) -> None:
    """Print the lines, then wait for Ctrl-C (the caller stops everything afterwards)."""
    assert stack.receiver is not None
    receiver = stack.receiver.url
    shop = shops[0]
    customer_id = shop.shopify.add_customer("Gus", "Hale", "gus@example.com", None, address=OTTAWA)
    payload = customer_payload(id=customer_id, email="gus@example.com", first_name="Gus", last_name="Hale")
    lines = [
        "",
        f"Still running (Ctrl-C to stop). Receiver: {receiver}",
        "",
        "# liveness, readiness and Prometheus metrics",
        f"curl -s {receiver}/healthz",
        f"curl -s {receiver}/readyz",
        f"curl -s {receiver}/metrics | grep '^possync_'",
        "",
        f"# a signed customers/create for a new Shopify customer of {shop.name}: the worker creates them in the POS.",
        "# Paste it twice: the same X-Shopify-Webhook-Id is a duplicate delivery (200, stored once).",
        "# Change one byte of the body and the signature no longer matches: 401, nothing stored.",
        webhook_curl(receiver, shop, "customers/create", payload),
        "",
        "# what the sandboxes hold (POS customers, Shopify customers)",
        *(f"curl -s {s.pos.url}/_control/state   # {s.kind}" for s in shops),
        f"curl -s {shop.shopify.url}/_control/state   # Shopify of {shop.name}",
        "",
        "# then, in another terminal:",
        f"POSSYNC_DATABASE_URL={stack.database_url} possync status --json",
    ]
    print("\n".join(lines), flush=True)
    wait_for_stop()


def _stop(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def wait_for_stop() -> None:
    """Until Ctrl-C or SIGTERM. Both are set explicitly: a shell's `&` starts jobs with SIGINT ignored."""
    previous = {sig: signal.signal(sig, _stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        print("\nstopping", flush=True)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
