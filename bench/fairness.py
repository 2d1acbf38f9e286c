"""Fairness: a small shop's live webhook -> POS latency while a big tenant's backlog fills the same queue.

Tenant A (R-Series, its fake holding the documented bucket: 90 units draining 1 per second) has
`A_JOBS` new-customer syncs queued at once, as an import or a catch-up after an outage would leave
them: far more than its vendor lets through in the run, so A's backlog lasts the whole measurement.
Tenant B (R-Series too, so the same `pos.lightspeed_r` queue and the same worker processes; its POS
unthrottled) then receives `B_WEBHOOKS` `orders/create` webhooks, one a second, through the real
receiver. Measured: for each of B's jobs, the time from the receiver storing the delivery to the job
finishing after its POS write (the `possync_webhook_to_pos_seconds` definition), p50 / p99 / max.

Full size (the issue's): `python -m bench fairness` (A = 20,000 jobs). `python -m bench fairness
--small` runs A = 2,000, which a shared machine can afford.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

import sqlalchemy as sa

from bench.cleanup import exit_on_signals
from bench.table import Result, percentile, render
from testing.stack import Shop, add_customer, finished_count, make_pos_fake, order_webhook, queue_syncs, stack, wait_for

A_JOBS = 20_000
A_JOBS_SMALL = 2_000
B_WEBHOOKS = 20
B_INTERVAL_SECONDS = 1.0
WORKER_PROCESSES = 2
P99_TARGET_SECONDS = 5.0
B_TIMEOUT_SECONDS = 1_800.0


def _latencies(database_url: str, tenant_id: int) -> list[float]:
    """Seconds from the delivery stored to the job finished, for each of the tenant's succeeded jobs."""
    from possync.models.db import get_engine

    query = sa.text("SELECT EXTRACT(EPOCH FROM (j.finished_at - e.received_at)) FROM sync_jobs j "
                    "JOIN inbound_events e ON e.id = j.event_id WHERE j.tenant_id = :tenant "
                    "AND j.status = 'succeeded' AND j.finished_at IS NOT NULL")
    with get_engine(database_url).connect() as conn:
        return [float(v) for v in conn.execute(query, {"tenant": tenant_id}).scalars()]


def tenant_b_sends(database_url: str, small_shop: Shop, b_customers: list[str]) -> tuple[list[float], bool, float]:
    """B's webhooks, one a second; then its latencies, whether waiting for them timed out, and how long it took."""
    for i, cid in enumerate(b_customers):
        response = small_shop.send("orders/create", order_webhook(cid, i, tag="b"))
        assert response.status_code == 200, response.text
        time.sleep(B_INTERVAL_SECONDS)
    started = time.monotonic()
    try:
        wait_for(lambda: finished_count(database_url, small_shop.tenant_id) >= B_WEBHOOKS, B_TIMEOUT_SECONDS, 1.0,
                 "tenant B's jobs to finish")
        timed_out = False
    except TimeoutError:
        timed_out = True
    return _latencies(database_url, small_shop.tenant_id), timed_out, time.monotonic() - started


def run(progress: Callable[[str], None] | None = None, small: bool = False) -> list[Result]:
    say = progress or (lambda _text: None)
    a_jobs = A_JOBS_SMALL if small else A_JOBS
    with exit_on_signals(), stack("fairness") as s:
        s.start_receiver()
        big = s.add_shop("lightspeed-r", pos=make_pos_fake("lightspeed-r", bucket_size=90.0, drip_rate=1.0))
        small_shop = s.add_shop("lightspeed-r")
        s.lift_limiter(small_shop)
        customers = [add_customer(big, i, tag="a") for i in range(a_jobs)]
        b_customers = [add_customer(small_shop, i, tag="b") for i in range(B_WEBHOOKS)]
        s.start_worker("--pos", "lightspeed-r", "--queue", "intake", "--concurrency", str(WORKER_PROCESSES))
        say(f"fairness: A = {a_jobs} queued syncs against an R-Series bucket of 90 draining 1/s; "
            f"B sends {B_WEBHOOKS} webhooks, one a second")
        queue_syncs(s.database_url, big.tenant_id, customers)
        time.sleep(2.0)
        latencies, timed_out, waited = tenant_b_sends(s.database_url, small_shop, b_customers)
        a_done = finished_count(s.database_url, big.tenant_id)
        b_requests = len(small_shop.pos.vendor_requests())
    p99 = percentile(latencies, 99) if latencies else float("inf")
    p50 = percentile(latencies, 50) if latencies else float("inf")
    note = (f"possync worker --pos lightspeed-r --queue intake --concurrency {WORKER_PROCESSES}; A: {a_jobs:,} "
            f"new-customer syncs queued at once, R-Series fake bucket 90 draining 1/s ({a_done:,} finished during "
            f"the run); B: "
            f"{B_WEBHOOKS} orders/create webhooks 1 s apart, unthrottled POS ({b_requests} requests); "
            f"{len(latencies)} of B's jobs succeeded{' (timed out)' if timed_out else ''}, p50 {p50:.2f} s, "
            f"max {max(latencies, default=float('inf')):.2f} s; waited {waited:.0f} s after the last webhook")
    return [Result(f"fairness: tenant B webhook -> POS p99, A = {a_jobs:,} queued", p99, "s",
                   f"< {P99_TARGET_SECONDS:g} s", p99 < P99_TARGET_SECONDS and not timed_out, note)]


if __name__ == "__main__":
    print(render(run(lambda text: print(text, file=sys.stderr, flush=True), small="--small" in sys.argv)))
