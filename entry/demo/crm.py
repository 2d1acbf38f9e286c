"""The demo's CRM tenant: a Shopify sandbox and a Freshworks CRM sandbox, no POS (SPEC section 10).

Its short day runs after the POS day, through the same receiver and worker: three sign-ups (one with an
email the CRM refuses), an order that makes a contact Paying, a repeated update that writes nothing.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from typing import Any

import requests
from sqlalchemy import func, select

from possync.adapters.freshsales.fake import FakeFreshsales
from possync.adapters.shopify.fake import FakeShopify
from possync.adapters.shopify.webhooks import customer_payload, order_payload, send_webhook
from possync.entry.demo.progress import JobProgress
from possync.entry.demo.script import Check
from possync.models.db import session_scope
from possync.models.tables import JobStatus, SyncAttempt, SyncJob
from possync.models.tenant_file import validate_tenant_data
from possync.models.tenants import apply_tenant, get_tenant

NAME = "demo-crm"
CRM_KEY = "fs-demo-key"
SHOPIFY_TOKEN = "shpat_demo"
# What the CRM day must end with (the table's CRM line): Gus and Hana created, Gus updated by his order,
# Hana's repeat unchanged, Ivy refused by the CRM (an invalid email).
EXPECTED = {"created": 2, "updated": 1, "unchanged": 1, "failed": 1}


@dataclass
class CrmShop:
    shopify: FakeShopify
    crm: FakeFreshsales
    secret: str
    receiver_url: str
    customers: dict[str, str] = field(default_factory=dict)
    http: requests.Session = field(default_factory=requests.Session)

    def send(self, topic: str, payload: dict[str, Any]) -> int:
        return send_webhook(f"{self.receiver_url}/webhooks/shopify", topic, payload, self.secret,
                            f"{NAME}.myshopify.com", session=self.http).status_code

    def stop(self) -> None:
        self.http.close()
        self.shopify.stop()
        self.crm.stop()


def open_crm_shop(database_url: str, key: str, receiver_url: str) -> CrmShop:
    """Start the sandboxes and apply the tenant file an operator would write (`pos: null`, a `crm` block)."""
    shopify = FakeShopify(SHOPIFY_TOKEN, shop_domain=f"{NAME}.myshopify.com")
    crm = FakeFreshsales(CRM_KEY, with_setup=True)
    shopify.start()
    crm.start()
    shop = CrmShop(shopify, crm, secrets.token_hex(16), receiver_url)
    data = {"name": NAME, "account_name": f"{NAME}-store",
            "shopify": {"shop_domain": f"{NAME}.myshopify.com", "access_token": SHOPIFY_TOKEN,
                        "client_secret": shop.secret, "api_base_url": shopify.url},
            "pos": None, "crm": {"kind": "freshsales", "base_url": crm.url, "api_key": CRM_KEY}}
    with session_scope(database_url) as session:
        apply_tenant(session, validate_tenant_data(json.loads(json.dumps(data))), key)
    return shop


def run_crm_day(shop: CrmShop, progress: JobProgress, checks: list[Check]) -> None:
    progress.phase("CRM: sign-ups, an order, a repeat")
    shopify = shop.shopify
    for first, email in (("Gus", "gus@example.com"), ("Hana", "hana@example.com"), ("Ivy", "ivy@invalid")):
        shop.customers[first] = shopify.add_customer(first, "Demo", email, None, email_consent="SUBSCRIBED")
        _sent(shop, progress, checks, "customers/create", customer_payload(id=shop.customers[first], email=email))
    progress.wait()
    shopify.add_order(shop.customers["Gus"])
    gus = customer_payload(id=shop.customers["Gus"], email="gus@example.com")
    _sent(shop, progress, checks, "orders/create", order_payload(customer=gus))
    _sent(shop, progress, checks, "customers/update",
          customer_payload(id=shop.customers["Hana"], email="hana@example.com"))
    progress.wait()
    contacts = shop.crm.state()["contacts"]
    checks.append(Check("crm", "two contacts in the CRM, none twice", len(contacts) == 2, f"{len(contacts)} contacts"))
    paying = {s["id"] for s in shop.crm.statuses if s["name"] == "Paying"}
    checks.append(Check("crm", "Gus's order made him Paying (rule 42)",
                        any(c.get("contact_status_id") in paying and c.get("external_id") == shop.customers["Gus"]
                            for c in contacts)))


def _sent(shop: CrmShop, progress: JobProgress, checks: list[Check], topic: str, payload: dict[str, Any]) -> None:
    status = shop.send(topic, payload)
    checks.append(Check("crm", f"{topic}: webhook accepted", status == 200, f"HTTP {status}"))
    if status == 200:
        progress.expect(1)


def crm_counts(database_url: str) -> dict[str, Any]:
    """The CRM tenant's jobs by result, its CRM requests and waits, for the closing table."""
    with session_scope(database_url) as session:
        tenant = get_tenant(session, NAME)
        assert tenant is not None
        rows = session.execute(select(SyncJob.status, SyncJob.outcome, func.count())
                               .where(SyncJob.tenant_id == tenant.id).group_by(SyncJob.status, SyncJob.outcome)).all()
        waits = session.scalar(select(func.count()).select_from(SyncAttempt).join(SyncJob).where(
            SyncJob.tenant_id == tenant.id, SyncAttempt.outcome == "rate_limited")) or 0
        failed = [(j.id, j.last_error_class or "", j.last_error or "") for j in session.scalars(
            select(SyncJob).where(SyncJob.tenant_id == tenant.id, SyncJob.status == JobStatus.FAILED.value))]
    counts = dict.fromkeys(EXPECTED, 0)
    for status, outcome, count in rows:
        key = "failed" if status == JobStatus.FAILED.value else str(outcome)
        counts[key] = counts.get(key, 0) + count
    return {"counts": counts, "waits": waits, "failed": failed}


def check_crm_day(database_url: str, checks: list[Check]) -> dict[str, Any]:
    found = crm_counts(database_url)
    counts = {k: found["counts"].get(k, 0) for k in EXPECTED}
    checks.append(Check("crm", "the CRM day adds up: " + ", ".join(f"{k} {v}" for k, v in EXPECTED.items()),
                        counts == EXPECTED, "got " + ", ".join(f"{k} {v}" for k, v in counts.items())))
    return found
