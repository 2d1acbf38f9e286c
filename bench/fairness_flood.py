"""Fairness at intake: a small shop's webhook -> POS latency while another tenant floods webhooks.

`bench.fairness` queues tenant A's backlog as sync jobs directly; here A's backlog arrives as webhooks,
the way a Shopify bulk import or a replay of missed deliveries does: `A_WEBHOOKS` `orders/create`
deliveries for new customers, posted to the real receiver by `FLOOD_THREADS` threads as fast as it
takes them. Each becomes an `intake` message in A's fair line of the `intake` queue (before issue 20's
intake change: straight onto the broker's `intake` list, first in first out).
Once A's last delivery is stored, tenant B sends `B_WEBHOOKS` webhooks one a second, as in
`bench.fairness`; the same worker (`--pos lightspeed-r --queue intake`) serves both queues. Measured: B's
delivery stored -> job finished, p50 / p99, and how many of A's intake messages were still queued (in
the broker's list or in A's line) when B's first arrived: whether intake is fair (docs/RELIABILITY.md, promise 8).

Full size: `python -m bench fairness_flood` (A = 20,000 webhooks); `--small`: A = 2,000.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable

import redis
import requests

from bench.fairness import B_WEBHOOKS, P99_TARGET_SECONDS, WORKER_PROCESSES, tenant_b_sends
from bench.table import Result, percentile, render
from testing.stack import REDIS_URL, Shop, add_customer, finished_count, make_pos_fake, order_webhook, stack

A_WEBHOOKS = 20_000
A_WEBHOOKS_SMALL = 2_000
FLOOD_THREADS = 4


def _flood(shop: Shop, customers: list[str]) -> None:
    """Post one `orders/create` per customer from `FLOOD_THREADS` threads, each with its own session."""
    from possync.adapters.shopify.webhooks import send_webhook

    assert shop.receiver_url
    failures: list[int] = []

    def post(part: list[tuple[int, str]]) -> None:
        with requests.Session() as session:
            for i, cid in part:
                response = send_webhook(f"{shop.receiver_url}/webhooks/shopify", "orders/create",
                                        order_webhook(cid, i, tag="a"), shop.secret, shop.domain, session=session)
                if response.status_code != 200:
                    failures.append(response.status_code)

    numbered = list(enumerate(customers))
    threads = [threading.Thread(target=post, args=(numbered[n::FLOOD_THREADS],)) for n in range(FLOOD_THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise RuntimeError(f"the receiver refused {len(failures)} of A's deliveries (first: {failures[0]})")


def run(progress: Callable[[str], None] | None = None, small: bool = False) -> list[Result]:
    say = progress or (lambda _text: None)
    a_webhooks = A_WEBHOOKS_SMALL if small else A_WEBHOOKS
    with stack("fairness-flood") as s:
        s.start_receiver()
        big = s.add_shop("lightspeed-r", pos=make_pos_fake("lightspeed-r", bucket_size=90.0, drip_rate=1.0))
        small_shop = s.add_shop("lightspeed-r")
        s.lift_limiter(small_shop)
        customers = [add_customer(big, i, tag="a") for i in range(a_webhooks)]
        b_customers = [add_customer(small_shop, i, tag="b") for i in range(B_WEBHOOKS)]
        s.start_worker("--pos", "lightspeed-r", "--queue", "intake", "--concurrency", str(WORKER_PROCESSES))
        say(f"fairness_flood: A posts {a_webhooks} webhooks from {FLOOD_THREADS} threads; then B sends "
            f"{B_WEBHOOKS}, one a second")
        flood_started = time.monotonic()
        _flood(big, customers)
        flood_seconds = time.monotonic() - flood_started
        client = redis.Redis.from_url(REDIS_URL)
        # A's intake messages still waiting: in the broker's list and in A's fair line of `intake`
        ahead = int(client.llen(s.redis_prefix + "intake")) + int(client.llen(
            f"{s.redis_prefix}fq:intake:t:{big.tenant_id}"))
        client.close()
        latencies, timed_out, _waited = tenant_b_sends(s.database_url, small_shop, b_customers)
        a_done = finished_count(s.database_url, big.tenant_id)
    p99 = percentile(latencies, 99) if latencies else float("inf")
    p50 = percentile(latencies, 50) if latencies else float("inf")
    note = (f"possync worker --pos lightspeed-r --queue intake --concurrency {WORKER_PROCESSES}; A: {a_webhooks:,} "
            f"orders/create webhooks for new customers posted in {flood_seconds:.0f} s ({FLOOD_THREADS} threads), "
            f"R-Series fake bucket 90 draining 1/s ({a_done:,} of A's syncs finished during the run); {ahead:,} of "
            f"A's intake messages still queued when B began; B: {B_WEBHOOKS} orders/create webhooks 1 s apart, "
            f"unthrottled POS; {len(latencies)} of B's jobs succeeded{' (timed out)' if timed_out else ''}, "
            f"p50 {p50:.2f} s, max {max(latencies, default=float('inf')):.2f} s")
    return [Result(f"fairness at intake: tenant B webhook -> POS p99, A floods {a_webhooks:,} webhooks", p99, "s",
                   f"< {P99_TARGET_SECONDS:g} s", p99 < P99_TARGET_SECONDS and not timed_out, note)]


if __name__ == "__main__":
    print(render(run(lambda text: print(text, file=sys.stderr, flush=True), small="--small" in sys.argv)))
