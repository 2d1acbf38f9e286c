"""The demo's tenants: one per POS kind, each a Shopify sandbox and a POS sandbox wired to possync.

A `DemoShop` plays the merchant's world: Shopify (the fake, which also sends the webhooks Shopify
sends after API writes) and the POS (its fake, where staff edit and archive customers). Everything the
script does to a POS goes through the vendor-specific helpers here, so the script itself reads the
same for all three.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from typing import Any

import requests

from possync.adapters.fakes.server import FakeVendorServer
from possync.adapters.heartland.fake import FakeServer as HeartlandFake
from possync.adapters.lightspeed_r.fake import FakeServer as LightspeedRFake
from possync.adapters.lightspeed_x.fake import FakeServer as LightspeedXFake
from possync.adapters.shopify.fake import FakeShopify
from possync.adapters.shopify.webhooks import send_webhook
from possync.models.db import session_scope
from possync.models.tenant_file import validate_tenant_data
from possync.models.tenants import apply_tenant

KINDS = ("lightspeed-r", "lightspeed-x", "heartland")
SHOPIFY_TOKEN = "shpat_demo"
POS_TOKENS = {"lightspeed-r": "lsr-demo-token", "lightspeed-x": "lsx-demo-token", "heartland": "hl-demo-token"}
# Heartland publishes no limit; its fake guesses 10 requests per 1-second window. At that guess a
# three-call create (customer, address, link) is now and then cut by a 429 and completed on retry,
# which is handled but makes the day's outcomes depend on timing; the demo's 429s come from its storm.
HEARTLAND_DEMO_WINDOW = 25
# The Heartland tenant's default customer (SPEC rule 23): a Shopify customer walk-in sales are booked to.
DEFAULT_CUSTOMER_ID = "7208000900001"


def tenant_name(kind: str) -> str:
    return f"demo-{kind}"


def make_pos_fake(kind: str) -> FakeVendorServer:
    """The vendor's sandbox with its rate limits on: the limiter works against them all day."""
    token = POS_TOKENS[kind]
    if kind == "lightspeed-r":
        return LightspeedRFake(access_token=token)
    if kind == "lightspeed-x":
        return LightspeedXFake(access_token=token)
    return HeartlandFake(api_token=token, requests_per_window=HEARTLAND_DEMO_WINDOW)


@dataclass
class DemoShop:
    """One tenant of the demo and the sandboxes behind it."""

    kind: str
    shopify: FakeShopify
    pos: FakeVendorServer
    secret: str  # the Shopify app's client secret: webhooks are signed with it
    receiver_url: str
    http: requests.Session = field(default_factory=requests.Session)

    @property
    def name(self) -> str:
        return tenant_name(self.kind)

    @property
    def domain(self) -> str:
        return f"{self.name}.myshopify.com"

    @property
    def webhook_url(self) -> str:
        return f"{self.receiver_url}/webhooks/shopify"

    # --- Shopify's side ------------------------------------------------------------------------
    def send(self, topic: str, payload: dict[str, Any], *, secret: str | None = None,
             webhook_id: str | None = None) -> requests.Response:
        """Deliver one webhook as Shopify does: signed over the exact bytes sent."""
        return send_webhook(self.webhook_url, topic, payload, secret or self.secret, self.domain,
                            webhook_id=webhook_id, session=self.http)

    # --- the POS's side (staff in the store) -----------------------------------------------------
    def seed_pos_customer(self, first: str, last: str, email: str, address: dict[str, str]) -> str:
        """A customer who shopped in the store before the shop went online (`address` in GraphQL keys)."""
        parts = {"address1": address["address1"], "city": address["city"], "province_code": address["provinceCode"],
                 "zip": address["zip"], "country_code": address["countryCode"]}
        record: dict[str, Any] = {"first_name": first, "last_name": last, "email": email}
        if self.kind == "lightspeed-r":
            record["address"] = {"address1": parts["address1"], "city": parts["city"],
                                 "state": parts["province_code"], "stateCode": parts["province_code"],
                                 "zip": parts["zip"], "country": parts["country_code"],
                                 "countryCode": parts["country_code"]}
        elif self.kind == "lightspeed-x":
            record["billing_address"] = parts
        else:
            record["address"] = parts
        return str(self.pos.seed([record])[0])

    def edit_last_name(self, pos_id: str, last_name: str) -> None:
        """A merchant's edit in the POS back office, in each vendor's own shape."""
        pos: Any = self.pos
        if self.kind == "lightspeed-r":
            pos.advance_clock(2)  # R-Series change polls compare second-precision timestamps
            pos.edit(pos_id, {"lastName": last_name})
        else:
            pos.edit(pos_id, last_name=last_name)

    def archive(self, pos_id: str) -> None:
        """Archived in the POS (X-Series has no archive: its soft delete is the nearest thing)."""
        pos: Any = self.pos
        pos.archive(pos_id)

    def inject_429s(self, count: int) -> None:
        """The next `count` POS requests get the vendor's own 429 with a one-second Retry-After."""
        pos: Any = self.pos
        if self.kind == "lightspeed-r":
            pos.inject_rate_limit(retry_after=1.0, count=count)
        elif self.kind == "lightspeed-x":
            pos.inject(429, count=count, retry_after=1.0)
        else:
            pos.inject(429, count=count)

    def pos_records(self) -> list[dict[str, Any]]:
        records: Any = self.pos.records  # type: ignore[attr-defined]
        return list(records.values()) if isinstance(records, dict) else list(records)

    def pos_emails(self) -> list[str]:
        """Emails of the POS's active customers, lower-cased (duplicates kept: they are what we look for)."""
        return [e.lower() for e in _emails(self.kind, self.pos_records())]

    def pos_requests(self) -> int:
        return len(self.pos.vendor_requests())

    def pos_429s(self) -> int:
        return sum(1 for r in self.pos.vendor_requests() if r.status == 429)

    def shopify_requests(self) -> int:
        return len(self.shopify.vendor_requests())

    def stop(self) -> None:
        self.http.close()
        self.shopify.stop()
        self.pos.stop()


def _emails(kind: str, records: list[dict[str, Any]]) -> list[str]:
    found = []
    for record in records:
        if kind == "lightspeed-r":
            if str(record.get("archived", "false")).lower() == "true":
                continue
            contact = record.get("Contact") or {}
            emails = (contact.get("Emails") or {}) if isinstance(contact, dict) else {}
            entries = emails.get("ContactEmail", []) if isinstance(emails, dict) else []
            entries = entries if isinstance(entries, list) else [entries]
            found += [e.get("address", "") for e in entries if isinstance(e, dict)]
        elif kind == "lightspeed-x":
            if not record.get("deleted_at") and record.get("email"):
                found.append(record["email"])
        elif record.get("active") and record.get("email"):
            found.append(record["email"])
    return found


def tenant_file(shop: DemoShop, settings: dict[str, Any]) -> dict[str, Any]:
    """The tenant file (INTERFACE.md) an operator would write for this shop, pointing at the sandboxes."""
    pos: dict[str, Any] = {"kind": shop.kind, "base_url": shop.pos.url, "access_token": POS_TOKENS[shop.kind]}
    if shop.kind == "lightspeed-r":
        pos["account_id"] = shop.pos.account_id  # type: ignore[attr-defined]
    elif shop.kind == "lightspeed-x":
        pos["domain_prefix"] = shop.pos.domain_prefix  # type: ignore[attr-defined]
    else:
        pos["subdomain"] = shop.name
    return {
        "name": shop.name,
        "account_name": f"{shop.name}-store",
        "shopify": {"shop_domain": shop.domain, "access_token": SHOPIFY_TOKEN, "client_secret": shop.secret,
                    "api_base_url": shop.shopify.url},
        "pos": pos,
        "settings": settings,
    }


def open_shop(kind: str, database_url: str, key: str, receiver_url: str) -> DemoShop:
    """Start the sandboxes of one tenant, apply its tenant file, subscribe Shopify's webhooks."""
    name = tenant_name(kind)
    shopify = FakeShopify(SHOPIFY_TOKEN, shop_domain=f"{name}.myshopify.com")
    pos = make_pos_fake(kind)
    shopify.start()
    pos.start()
    shop = DemoShop(kind, shopify, pos, secrets.token_hex(16), receiver_url)
    settings: dict[str, Any] = {"default_customer_id": DEFAULT_CUSTOMER_ID} if kind == "heartland" else {}
    with session_scope(database_url) as session:
        apply_tenant(session, validate_tenant_data(json.loads(json.dumps(tenant_file(shop, settings)))), key)
    # Shopify's own webhooks after possync's writes (SPEC rule 5: they must come back as echoes).
    shopify.subscribe(shop.webhook_url, shop.secret, topics=(
        "customers/create", "customers/update", "customers_email_marketing_consent/update",
        "customers_marketing_consent/update"))
    return shop
