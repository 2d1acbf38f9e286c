"""ShipStation: reading its customers through the shared limiter, and the import file's export.

Reading: 10,000 customers in the ShipStation fake at V1's 40 requests per window, with the window
scaled from 60 s to 6 s so a run takes seconds rather than minutes (the pacing logic is the same: the
window headers feed the shared limiter, a spent window is a cooldown until its reset). Read at 500 a
page (20 pages and the tags list: one window) and at 100 a page (101 requests: three windows, so the
waits are exercised). Measured: requests sent against pages + 1, and the requests the fake refused
inside a spent window (its 429s).

Export: `possync shipstation export` in its own process once ShipStation is read, against 10,000
Shopify customers (the Shopify fake unthrottled: Shopify's own pacing is the preview bench's subject):
a third unknown to ShipStation, a third with an out-of-date manual record, a third store-imported.
Its time and peak RSS (the file is streamed a Shopify page at a time).
"""

from __future__ import annotations

import json
import os
import resource
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from bench.onboarding import possync_process
from bench.table import Result
from possync.adapters.errors import RateLimitedError
from possync.adapters.shipstation.fake import FakeShipStation
from possync.adapters.shopify.fake import FakeShopify
from testing.stack import SHOPIFY_TOKEN, Stack, make_pos_fake, stack, tenant_file

CUSTOMERS = 10_000
SMALL_CUSTOMERS = 1_000
LIMIT = 40  # V1: requests per window
WINDOW_SECONDS = 6.0  # V1's 60 s, scaled down by 10
EXPORT_SECONDS_TARGET = 10.0
MADRID = {"address1": "Calle Mayor {i}", "city": "Madrid", "provinceCode": "M", "zip": "28013", "countryCode": "ES"}


def _tenant(s: Stack, shipstation: FakeShipStation, shopify: FakeShopify) -> str:
    from possync.models.db import session_scope
    from possync.models.tenant_file import validate_tenant_data
    from possync.models.tenants import apply_tenant

    name = f"ss{uuid.uuid4().hex[:8]}"
    pos = s.start_fake(make_pos_fake("heartland"))
    data = tenant_file(name, "heartland", shopify.url, pos, "bench")
    data["shipstation"] = {"api_key": shipstation.api_key, "api_secret": shipstation.api_secret,
                           "base_url": shipstation.url, "tag_rules": {"vip": "VIP"}}
    with session_scope(s.database_url) as session:
        apply_tenant(session, validate_tenant_data(data), s.secret_key)
    return name


def _read(s: Stack, name: str, page_size: int) -> tuple[float, int, int, int]:
    from possync.models.db import session_scope
    from possync.tasks.shipstation.operations import read_here

    def wait(exc: RateLimitedError) -> None:
        time.sleep(exc.countdown(0.05))

    started = time.monotonic()
    with session_scope(s.database_url) as session:
        summary = read_here(session, name, s.secret_key, full=True, page_size=page_size,
                            window_seconds=WINDOW_SECONDS, on_wait=wait)
    return time.monotonic() - started, summary.pages, summary.requests, summary.customers


def run(progress: Callable[[str], None] = lambda _: None, small: bool = False) -> list[Result]:
    n = SMALL_CUSTOMERS if small else CUSTOMERS
    results: list[Result] = []
    with stack("shipstation") as s:
        shipstation = s.start_fake(FakeShipStation("bench-key", "bench-secret-0123456789", limit=LIMIT,
                                                   window_seconds=WINDOW_SECONDS))
        shopify = s.start_fake(FakeShopify(SHOPIFY_TOKEN, maximum_available=None))
        assert isinstance(shipstation, FakeShipStation) and isinstance(shopify, FakeShopify)
        progress(f"shipstation: seeding {n:,} Shopify and {n:,} ShipStation customers ...")
        for i in range(n):
            address = {k: v.format(i=i) for k, v in MADRID.items()}
            sid = shopify.add_customer(f"F{i}", "Ruiz", f"c{i}@example.com", tags=["VIP"] if i % 5 == 0 else [],
                                       address=address)
            if i % 3 == 1:  # an out-of-date manual record: another street, and Shopify changed since
                shopify._customers[sid]["updated_at"] = "2030-01-01T00:00:00Z"
                shipstation.add_customer(name=f"F{i} Ruiz", email=f"c{i}@example.com", username=sid,
                                         street1=f"Old street {i}", city="Madrid", state="M", postal_code="28013",
                                         country_code="ES")
            elif i % 3 == 2:  # its Shopify store's record
                shipstation.add_customer(name=f"F{i} Ruiz", email=f"c{i}@example.com", marketplace="Shopify",
                                         marketplace_id=7, username=sid)
            else:
                shipstation.add_customer(name=f"Other {i}", email=f"other{i}@example.com")
        name = _tenant(s, shipstation, shopify)
        for page_size in (500, 100):
            shipstation.reset()
            shipstation.too_many = 0
            progress(f"shipstation: reading {n:,} at {page_size} a page, {LIMIT} per {WINDOW_SECONDS:g} s ...")
            seconds, pages, requests, read = _read(s, name, page_size)
            refused = shipstation.too_many
            results.append(Result(
                f"ShipStation read {read:,} customers, {page_size}/page: requests", requests, "requests",
                f"<= pages + 1 ({pages + 1}), 0 in a spent window", requests <= pages + 1 and refused == 0,
                f"{pages} pages + tags list; {refused} 429s (requests inside a spent window); {seconds:.1f} s at "
                f"{LIMIT} per {WINDOW_SECONDS:g} s (V1 window scaled 10x down)"))
        out = Path(tempfile.mkdtemp(prefix="possync-bench-ss-")) / "import.csv"
        progress(f"shipstation: exporting {n:,} Shopify customers ...")
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        seconds, rss, status = possync_process(s, "shipstation", "export", "--tenant", name, "--out", str(out),
                                               "--json")
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        rows = max(0, len(out.read_bytes().splitlines()) - 1) if out.exists() else 0
        results.append(Result(
            f"ShipStation export of {n:,} Shopify customers (once read)", seconds, "s",
            f"< {EXPORT_SECONDS_TARGET:g} s, streamed", status == 0 and seconds < EXPORT_SECONDS_TARGET,
            f"{rows:,} rows written (new and out-of-date manual; store-imported never); peak RSS {rss:.0f} MB; "
            f"the export process's CPU {cpu:.1f} s (start-up included); load average {os.getloadavg()[0]:.1f} "
            f"at its end; exit {status}; Shopify fake unthrottled, served by the bench process"))
        out.unlink(missing_ok=True)
    return results


if __name__ == "__main__":
    from bench.table import render

    print(render(run(print)))
    print(json.dumps({"customers": CUSTOMERS}))
