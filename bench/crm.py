"""The CRM destination (SPEC section 10, issue 17), through the whole stack: receiver, worker, fakes.

- requests per synced contact: a new, an unchanged and a changed customer, counted in the Freshsales
  fake's own log (target: 1, 0, 1; the connect check is counted apart, once per tenant);
- backfill at a scaled-down budget: `possync crm backfill`'s loop against a fake whose hour is
  `HOUR_SECONDS` long with `PER_HOUR` requests, the limiter's windows scaled the same (targets: >= 95%
  of the budget used, no request sent inside a window already spent, i.e. no 429, <= 1% 429s);
- webhook -> CRM contact written, idle system, fake without delay (p50 < 1 s, p99 < 3 s);
- webhook -> POS latency of a tenant with a POS only and of one with a POS and a CRM, side by side.
Small sizes by default on a shared machine; `CRM_BENCH_BACKFILL=20000` runs the issue's full backfill.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from typing import Any

import requests
import sqlalchemy as sa

from bench.table import Result, percentile, render
from testing.stack import (
    Shop,
    Stack,
    finished_count,
    jobs_of,
    make_pos_fake,
    order_webhook,
    stack,
    tenant_file,
    wait_for,
)

CRM_KEY = "fs-bench-key"
PER_HOUR = 100
HOUR_SECONDS = 6.0
BACKFILL_CUSTOMERS = int(os.environ.get("CRM_BENCH_BACKFILL", "1000"))
LATENCY_SAMPLES = 30


def add_crm_shop(s: Stack, pos_kind: str | None = None, base_url: str | None = None,
                 **fake_options: Any) -> tuple[Shop, Any]:
    """A tenant with a CRM (the Freshsales fake, set up as Freshworks' app leaves it) and optionally a POS."""
    from possync.adapters.freshsales.fake import FakeFreshsales
    from possync.adapters.shopify.fake import FakeShopify
    from possync.models.db import session_scope
    from possync.models.tables import Tenant
    from possync.models.tenant_file import validate_tenant_data
    from possync.models.tenants import apply_tenant

    name = f"crm{uuid.uuid4().hex[:8]}"
    shopify = s.start_fake(FakeShopify("shpat_bench", shop_domain=f"{name}.myshopify.com", maximum_available=None))
    crm = None if base_url else s.start_fake(FakeFreshsales(CRM_KEY, with_setup=True, **fake_options))
    pos = s.start_fake(make_pos_fake(pos_kind)) if pos_kind else shopify
    secret = uuid.uuid4().hex
    data = tenant_file(name, pos_kind or "heartland", shopify.url, pos, secret)
    data["pos"] = data["pos"] if pos_kind else None
    data["crm"] = {"kind": "freshsales", "base_url": base_url or crm.url, "api_key": CRM_KEY}
    with session_scope(s.database_url) as session:
        apply_tenant(session, validate_tenant_data(json.loads(json.dumps(data))), s.secret_key)
    with session_scope(s.database_url) as session:
        tenant_id = session.scalars(sa.select(Tenant.id).where(Tenant.name == name)).one()
    return Shop(name, pos_kind or "crm", tenant_id, f"{name}.myshopify.com", secret, shopify, pos,
                s.receiver.url if s.receiver else None), crm


def _upserts(crm: Any) -> int:
    return crm.count_requests("POST", "/contacts/upsert")


def _latency_seconds(database_url: str, tenant_id: int, direction: str) -> list[float]:
    """Webhook received -> job finished, from the rows (the receiver's and the worker's own clocks)."""
    from possync.models.db import get_engine

    query = sa.text("SELECT extract(epoch FROM j.finished_at - e.received_at) FROM sync_jobs j "
                    "JOIN inbound_events e ON e.id = j.event_id WHERE j.tenant_id = :t AND j.direction = :d "
                    "AND j.status = 'succeeded'")
    with get_engine(database_url).connect() as conn:
        return [float(v) for (v,) in conn.execute(query, {"t": tenant_id, "d": direction})]


def requests_per_contact(s: Stack, say: Callable[[str], None]) -> list[Result]:
    shop, crm = add_crm_shop(s)
    time.sleep(1.1)  # the receiver learns a new shop within a second
    customer_id = shop.shopify.add_customer("Ana", "Lima", "ana@example.com", None, email_consent="SUBSCRIBED")
    rows = []
    connect_before = crm.count_requests()
    for n, (label, change) in enumerate((("new customer", None), ("returning unchanged", None),
                                         ("returning changed", "Lima-Souza")), start=1):
        if change:
            with shop.shopify.lock:
                shop.shopify._customers[customer_id]["last_name"] = change
        before = _upserts(crm)
        shop.send("customers/update", order_webhook(customer_id, 1)["customer"])
        wait_for(lambda n=n: finished_count(s.database_url, shop.tenant_id) >= n, 30, what=label)
        used = _upserts(crm) - before
        wanted = 0 if label == "returning unchanged" else 1
        job = jobs_of(s.database_url, shop.tenant_id)[-1]
        rows.append(Result(f"crm: upserts per synced contact, {label}", used, "requests", f"= {wanted}",
                           used == wanted, f"job outcome {job.outcome}"))
        say(f"crm: {label}: {used} upserts")
    checks = crm.count_requests("GET")
    rows.append(Result("crm: connect check requests, once per tenant", checks, "requests", "once (cached)",
                       crm.count_requests("GET", "/settings/contacts/fields") == 1,
                       f"{crm.count_requests() - connect_before} CRM requests in all for the 3 syncs"))
    return rows


class FakeProcess:
    """The Freshsales fake in a process of its own: the backfill's loop and the vendor do not share a core's
    time slices (the CRM is another machine in production). Read back through its control API."""

    def __init__(self, *args: str) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "possync.adapters.freshsales.fake", *args],
                                     stdout=subprocess.PIPE, text=True, start_new_session=True)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        self.url = line.rsplit(" ", 1)[-1].strip()

    def requests(self) -> list[dict[str, Any]]:
        return list(requests.get(f"{self.url}/_control/requests", timeout=30).json())

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


def backfill(s: Stack, say: Callable[[str], None]) -> list[Result]:
    from possync.adapters.registry import make_crm_adapter
    from possync.models.tenants import context_by_name
    from possync.tasks.clients import crm_bucket, shopify_client_for, wire_window_limiter
    from possync.tasks.crm_backfill import run_backfill
    from possync.worker.limiter import crm_windows
    from possync.worker.runtime import db_session, limiter

    fake = FakeProcess("--key", CRM_KEY, "--requests-per-hour", str(PER_HOUR), "--hour-seconds", str(HOUR_SECONDS),
                       "--per-minute", "400", "--minute-seconds", str(HOUR_SECONDS / 60))
    try:
        shop, _ = add_crm_shop(s, base_url=fake.url)
        for i in range(BACKFILL_CUSTOMERS):
            shop.shopify.add_customer(f"F{i}", f"L{i}", f"bf{i}@example.com", None)
        with db_session() as session:
            tenant = context_by_name(session, shop.name, s.secret_key)
            # A 429 without Retry-After waits a minute of the hour, scaled like the hour.
            adapter = make_crm_adapter(tenant, default_429_wait=HOUR_SECONDS / 60)
            waited: list[float] = []

            def wait(exc: Any) -> None:
                waited.append(exc.retry_after)
                time.sleep(exc.retry_after)

            wire_window_limiter(adapter.client, crm_bucket(tenant.name),
                                crm_windows(PER_HOUR, hour_seconds=HOUR_SECONDS), limiter(), tenant.name, wait=wait)
            started = time.time()
            row, counts = run_backfill(session, tenant, shopify_client_for(tenant), adapter)
            elapsed = time.time() - started
        sent = [r for r in fake.requests() if r["at"] >= started]
    finally:
        fake.stop()
    refused = sum(1 for r in sent if r["status"] == 429)
    # Budget use: requests answered in the run's full windows (from its first request) over their budget.
    first = sent[0]["at"] if sent else started
    windows = max(1, int((sent[-1]["at"] - first) // HOUR_SECONDS)) if sent else 1
    in_full = sum(1 for r in sent if r["status"] != 429 and r["at"] < first + windows * HOUR_SECONDS)
    use = in_full / (windows * PER_HOUR)
    pace = len(sent) / max(0.001, sent[-1]["at"] - first) if sent else 0.0
    say(f"crm backfill: {row.backfill_done} customers in {elapsed:.1f}s, {len(sent)} requests, {refused} 429s")
    note = (f"{BACKFILL_CUSTOMERS:,} customers at {PER_HOUR} requests per {HOUR_SECONDS:g} s window "
            f"(1,000/hour scaled down), {elapsed:.0f} s, {counts.written:,} written; the limiter held the loop "
            f"{len(waited)} times, {sum(waited):.1f} s in all; {pace:.1f} requests/s sent of "
            f"{PER_HOUR / HOUR_SECONDS:.1f} allowed")
    return [
        Result("crm backfill: share of the budget used", use * 100, "%", ">= 95%", use >= 0.95, note),
        Result("crm backfill: requests sent in a spent window (429s)", refused, "requests", "0", refused == 0,
               f"of {len(sent):,} requests"),
        Result("crm backfill: 429 share", 100 * refused / max(1, len(sent)), "%", "<= 1%",
               refused <= 0.01 * max(1, len(sent)), "every 429 is a request sent while the fake's window was spent"),
    ]


def latencies(s: Stack, say: Callable[[str], None]) -> list[Result]:
    crm_only, _ = add_crm_shop(s)
    pos_only = s.add_shop("lightspeed-x")
    both, _ = add_crm_shop(s, pos_kind="lightspeed-x")
    for shop in (pos_only, both):
        s.lift_limiter(shop)
        _mark_imported(s, shop.tenant_id)
    time.sleep(1.1)
    for i in range(LATENCY_SAMPLES):
        for n, shop in enumerate((crm_only, pos_only, both)):
            number = 1000 * n + i
            customer_id = shop.shopify.add_customer(f"P{number}", "Q", f"lat{number}@example.com", None,
                                                    address={"address1": "1 A St", "city": "Ottawa",
                                                             "provinceCode": "ON", "zip": "K2P 1L4",
                                                             "countryCode": "CA"})
            shop.send("orders/create", order_webhook(customer_id, number))
        # One at a time: an idle system, each sample on its own.
        wait_for(lambda i=i: sum(finished_count(s.database_url, shop.tenant_id) for shop in (crm_only, pos_only, both))
                 >= 4 * (i + 1), 60, 0.01, what=f"sample {i}")
    crm_latency = _latency_seconds(s.database_url, crm_only.tenant_id, "shopify_to_crm")
    pos_alone = _latency_seconds(s.database_url, pos_only.tenant_id, "shopify_to_pos")
    pos_beside = _latency_seconds(s.database_url, both.tenant_id, "shopify_to_pos")
    say(f"crm latency samples {len(crm_latency)}, POS {len(pos_alone)}/{len(pos_beside)}")
    p50, p99 = percentile(crm_latency, 50), percentile(crm_latency, 99)
    alone50, beside50 = percentile(pos_alone, 50), percentile(pos_beside, 50)
    return [
        Result("crm: webhook -> contact written, p50", p50 * 1000, "ms", "< 1000 ms", p50 < 1.0,
               f"{len(crm_latency)} sequential orders/create, idle, fake without delay"),
        Result("crm: webhook -> contact written, p99", percentile(crm_latency, 99) * 1000, "ms", "< 3000 ms",
               p99 < 3.0, "same run"),
        Result("crm: webhook -> POS p50, POS only | POS + CRM", beside50 * 1000, "ms",
               "unchanged by the CRM (within 20%)", beside50 <= alone50 * 1.2 + 0.02,
               f"POS only {alone50 * 1000:.0f} ms, with a CRM beside it {beside50 * 1000:.0f} ms "
               f"(p99 {percentile(pos_alone, 99) * 1000:.0f} | {percentile(pos_beside, 99) * 1000:.0f} ms), "
               "X-Series, same worker"),
    ]


def _mark_imported(s: Stack, tenant_id: int) -> None:
    from possync.models.db import session_scope
    from possync.models.tables import PosImport

    with session_scope(s.database_url) as session:
        session.merge(PosImport(tenant_id=tenant_id, status="complete", pages_read=0, customers_read=0))


def run(progress: Callable[[str], None] = lambda line: print(line, file=sys.stderr)) -> list[Result]:
    rows: list[Result] = []
    with stack("crm") as s:
        s.start_receiver()
        s.start_worker("--concurrency", "2")
        rows += requests_per_contact(s, progress)
        rows += latencies(s, progress)
        rows += backfill(s, progress)
    return rows


def run_backfill_only(progress: Callable[[str], None] = lambda line: print(line, file=sys.stderr)) -> list[Result]:
    with stack("crm") as s:
        return backfill(s, progress)


if __name__ == "__main__":  # `python -m bench.crm [backfill]`
    print(render(run_backfill_only() if sys.argv[1:] == ["backfill"] else run()))
