"""The shared limiter against a small R-Series bucket: how much of the vendor's budget is used, how many 429s.

Four worker processes (`possync worker --concurrency 4`), the R-Series fake with a leaky bucket of 20
draining 10 per second, and 500 queued syncs of new customers (jobs created directly and their chains
started: the backlog is there from the first second). The limiter starts from the documented default
(90, 1/s) and learns the real bucket from `X-LS-API-Bucket-Level` / `X-LS-API-Drip-Rate`.

Measured over a steady window (after the first seconds, while the backlog lasts): the bucket units the
fake admitted per second (its drip is what it allows sustained; R-Series requests cost 1 plus their
relations, so units are the budget and requests/s is shown beside them), and the share of 429 answers.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from flask import Response, g

from bench.table import Result, render
from possync.adapters.lightspeed_r.fake import FakeServer as LightspeedRFake
from testing.stack import POS_TOKENS, CpuSample, add_customer, finished_count, queue_syncs, stack

BUCKET = 20.0
DRIP = 10.0  # units per second
SYNCS = 500
WORKER_PROCESSES = 4
SETTLE_SECONDS = 5.0  # the initial burst (a full bucket) and the limiter learning the bucket
WINDOW_SECONDS = 60.0
RATE_SHARE_TARGET = 0.9
REJECTED_SHARE_TARGET = 0.01


class MeteredFake(LightspeedRFake):
    """The R-Series fake, also recording (time, cost) of every request its bucket admitted."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.admitted: list[tuple[float, float]] = []
        self._meter_lock = threading.Lock()

    def check_rate_limit(self) -> Response | None:
        refused = super().check_rate_limit()
        cost = g.get("ls_cost")
        if refused is None and cost is not None:
            with self._meter_lock:
                self.admitted.append((time.time(), float(cost)))
        return refused


def _limiter_waits(database_url: str) -> int:
    """Step attempts that were told to wait (limiter or 429): each one is a Celery retry with a countdown."""
    import sqlalchemy as sa

    from possync.models.db import get_engine

    with get_engine(database_url).connect() as conn:
        return int(conn.execute(sa.text("SELECT count(*) FROM sync_attempts WHERE outcome = 'rate_limited'"))
                   .scalar_one())


def run(progress: Callable[[str], None] | None = None) -> list[Result]:
    say = progress or (lambda _text: None)
    with stack("ratelimit") as s:
        fake = MeteredFake(access_token=POS_TOKENS["lightspeed-r"], bucket_size=BUCKET, drip_rate=DRIP)
        shop = s.add_shop("lightspeed-r", pos=fake)
        customers = [add_customer(shop, i, phone=i % 2 == 0) for i in range(SYNCS)]
        worker = s.start_worker("--concurrency", str(WORKER_PROCESSES))
        say(f"ratelimit: {SYNCS} syncs against a bucket of {BUCKET:g} draining {DRIP:g}/s, "
            f"{SETTLE_SECONDS + WINDOW_SECONDS:.0f} s ...")
        start = time.time()
        queue_syncs(s.database_url, shop.tenant_id, customers)
        time.sleep(SETTLE_SECONDS)
        window_start = time.time()
        cpu_before = CpuSample.take([worker])
        time.sleep(WINDOW_SECONDS)
        window_end = time.time()
        cpu = CpuSample.take([worker]) - cpu_before
        finished = finished_count(s.database_url, shop.tenant_id)
        waits = _limiter_waits(s.database_url)
        log = [r for r in fake.vendor_requests() if window_start <= r.at < window_end]
        units = sum(cost for at, cost in fake.admitted if window_start <= at < window_end)
        all_log = [r for r in fake.vendor_requests() if r.at >= start]
    seconds = window_end - window_start
    rejected = sum(r.status == 429 for r in log)
    rejected_all = sum(r.status == 429 for r in all_log)
    admitted = len(log) - rejected
    unit_rate = units / seconds
    share = rejected / len(log) if log else 1.0
    backlog = f"{finished} of {SYNCS} syncs finished by the end (the backlog lasted)" if finished < SYNCS else (
        f"all {SYNCS} syncs finished inside the window: the backlog ran out, the rate is understated")
    how = (f"possync worker --concurrency {WORKER_PROCESSES}; R-Series fake bucket {BUCKET:g} draining {DRIP:g}/s; "
           f"{SYNCS} new-customer syncs queued at once; window {seconds:.0f} s after {SETTLE_SECONDS:.0f} s")
    return [
        Result("ratelimit: vendor budget used (R-Series units/s)", unit_rate, "/s",
               f">= {RATE_SHARE_TARGET * DRIP:g}/s ({RATE_SHARE_TARGET:.0%} of {DRIP:g}/s)",
               unit_rate >= RATE_SHARE_TARGET * DRIP and finished < SYNCS,
               f"{how}; {admitted / seconds:.2f} requests/s admitted (mean cost {units / max(1, admitted):.2f}); "
               f"{backlog}; {waits} waits (task retries) over {len(all_log)} requests; "
               f"{cpu.per_item_note(max(1, admitted), seconds)} (per admitted request)"),
        Result("ratelimit: 429 answers", share * 100, "%", f"<= {REJECTED_SHARE_TARGET:.0%}",
               share <= REJECTED_SHARE_TARGET,
               f"{rejected} of {len(log)} requests in the window; {rejected_all} of {len(all_log)} over the whole "
               f"run (learning included); the limiter charges the cost the vendor reports (X-LS-API-Request-Cost), "
               f"{units / max(1, admitted):.2f} on average (1 + relations)"),
    ]


if __name__ == "__main__":
    print(render(run(lambda text: print(text, file=sys.stderr, flush=True))))
