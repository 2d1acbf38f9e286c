"""POS requests per sync, by scenario and POS, through the whole stack (receiver, worker, fakes).

For each POS kind, one customer goes through four syncs, each an `orders/create` delivery to the
receiver (a customer ordering again is the common returning case; the pipeline reads the customer
fresh from Shopify whatever the topic):
1. new customer (no link, nobody in the POS): match, then create;
2. returning, unchanged: the link is checked with one read and nothing is written;
3. returning, changed in Shopify (last name edited between orders): read, then update;
4. archived link: the linked POS customer was archived (X-Series: deleted) in the POS meanwhile.
Requests are counted from the POS fake's own log between the delivery and the job's end, by method.
Targets: a returning unchanged customer costs <= 1 POS request and no write (issue 5); a new customer on an
imported tenant, the catch-up read before the create included, <= 3 (R-Series, X-Series) or 5 (Heartland).
Each tenant is imported first (`possync tenant import`), as the README's onboarding says.
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from collections.abc import Callable

from bench.table import Result, render
from testing.stack import KINDS, Shop, Stack, add_customer, finished_count, jobs_of, order_webhook, stack, wait_for

SCENARIOS = ("new customer", "returning unchanged", "returning changed", "archived link")
WRITES = ("POST", "PUT", "PATCH", "DELETE")
UNCHANGED_MAX_REQUESTS = 1
# Issue 14: a new customer on an imported tenant, with the catch-up read before the create.
NEW_CUSTOMER_MAX_REQUESTS = {"lightspeed-r": 3, "lightspeed-x": 3, "heartland": 5}


def _archive(shop: Shop, pos_id: str) -> None:
    shop.pos.archive(pos_id)  # type: ignore[attr-defined]  # X-Series: `archive` is its soft delete


def _sync(s: Stack, shop: Shop, customer_id: str, order: int, expected_jobs: int) -> tuple[Counter[str], int, object]:
    """Send one order for customer 1; wait for its job; return (POS requests by method, Shopify requests, job)."""
    pos_before, shopify_before = len(shop.pos.vendor_requests()), len(shop.shopify.vendor_requests())
    response = shop.send("orders/create", order_webhook(customer_id, 1, order=order))
    if response.status_code != 200:
        raise RuntimeError(f"the receiver answered {response.status_code}")
    wait_for(lambda: finished_count(s.database_url, shop.tenant_id) >= expected_jobs, 60, 0.02,
             what=f"sync {expected_jobs} on {shop.kind}")
    job = jobs_of(s.database_url, shop.tenant_id)[-1]
    methods = Counter(r.method for r in shop.pos.vendor_requests()[pos_before:])
    return methods, len(shop.shopify.vendor_requests()) - shopify_before, job


def measure_kind(s: Stack, kind: str) -> list[Result]:
    from possync.entry.web.tenant_cache import KNOWN_SHOPS_TTL_SECONDS
    from possync.tasks.onboarding import import_here

    shop = s.add_shop(kind)
    s.lift_limiter(shop)
    import_here(shop.name, on_page=lambda _row: None)
    time.sleep(KNOWN_SHOPS_TTL_SECONDS)  # the receiver learns a new shop within this time
    customer_id = add_customer(shop, 1)
    rows = []
    for n, scenario in enumerate(SCENARIOS, start=1):
        if scenario == "returning changed":
            with shop.shopify.lock:
                shop.shopify._customers[customer_id]["last_name"] = "Changed"
        elif scenario == "archived link":
            _archive(shop, jobs_of(s.database_url, shop.tenant_id)[-1].context["pos_id"])
        methods, shopify, job = _sync(s, shop, customer_id, n, n)
        total = sum(methods.values())
        writes = sum(methods[m] for m in WRITES)
        detail = ", ".join(f"{m} {c}" for m, c in sorted(methods.items())) or "none"
        ok = job.status == "succeeded"  # type: ignore[attr-defined]
        outcome = job.outcome if ok else f"FAILED: {job.last_error}"  # type: ignore[attr-defined]
        note = f"{detail}; Shopify {shopify}; outcome {outcome}"
        if scenario == "returning unchanged":
            rows.append(Result(f"requests per sync: {kind}, {scenario}", total, "requests",
                               f"<= {UNCHANGED_MAX_REQUESTS}, 0 writes",
                               ok and total <= UNCHANGED_MAX_REQUESTS and writes == 0, note))
        elif scenario == "new customer":  # the catch-up read before the create included (rule 36)
            most = NEW_CUSTOMER_MAX_REQUESTS[kind]
            rows.append(Result(f"requests per sync: {kind}, {scenario}", total, "requests", f"<= {most}",
                               ok and total <= most, note))
        else:
            rows.append(Result(f"requests per sync: {kind}, {scenario}", total, "requests", "(informational)", ok,
                               note))
    return rows


def run(progress: Callable[[str], None] | None = None) -> list[Result]:
    say = progress or (lambda _text: None)
    results: list[Result] = []
    with stack("requests") as s:
        s.start_receiver()
        s.start_worker("--concurrency", "2")
        for kind in KINDS:
            say(f"requests per sync: {kind} ...")
            results += measure_kind(s, kind)
    return results


if __name__ == "__main__":
    print(render(run(lambda text: print(text, file=sys.stderr, flush=True))))
