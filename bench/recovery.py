"""Recovery after a crash: a worker SIGKILLed while a rate-limited backlog drains, default settings.

One tenant (R-Series fake with a bucket of 10 draining 2 units a second) with `SYNCS` new-customer syncs
queued at once; one `possync worker --concurrency 2`. Once a few have finished, the worker's whole
process group is SIGKILLed and a new worker started at once (what a supervisor does). No beat runs,
so the sweeper cannot help, and the sweep age is the default (300 s). Measured: seconds from the kill
to the POS's next request, and after the backlog drains, jobs lost (not succeeded) and customers the
POS holds twice.

`python -m bench recovery` (40 syncs; the size does not change what is measured).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import sys
import time
from collections import Counter
from collections.abc import Callable

from bench.cleanup import exit_on_signals
from bench.table import Result, render
from possync.adapters.lightspeed_r.fake import FakeServer as LightspeedRFake
from testing.stack import POS_TOKENS, add_customer, finished_count, jobs_of, queue_syncs, stack, wait_for

SYNCS = 40
KILL_AFTER = 5
RESUME_TARGET_SECONDS = 30.0
TIMEOUT_SECONDS = 600.0
EMAIL = re.compile(r"customerrec\d+@example\.com")  # testing.stack.add_customer's emails with tag "rec"


def run(progress: Callable[[str], None] | None = None) -> list[Result]:
    say = progress or (lambda _text: None)
    with exit_on_signals(), stack("recovery") as s:
        # Started once, by add_shop: a second start left the first server's (non-daemon) threads running, and
        # this process alive after its run.
        fake = LightspeedRFake(access_token=POS_TOKENS["lightspeed-r"], bucket_size=10.0, drip_rate=2.0)
        shop = s.add_shop("lightspeed-r", pos=fake)
        customers = [add_customer(shop, i, tag="rec") for i in range(SYNCS)]
        first = s.start_worker("--concurrency", "2")
        queue_syncs(s.database_url, shop.tenant_id, customers)
        wait_for(lambda: finished_count(s.database_url, shop.tenant_id) >= KILL_AFTER, 300, 0.2,
                 "the backlog to start draining")
        assert first.proc is not None
        os.killpg(first.proc.pid, signal.SIGKILL)
        first.proc.wait(timeout=30)
        killed_at = time.time()
        finished_at_kill = finished_count(s.database_url, shop.tenant_id)
        say(f"recovery: worker killed with {finished_at_kill} of {SYNCS} finished; starting another")
        s.start_worker("--concurrency", "2")
        ready = time.time() - killed_at
        wait_for(lambda: any(r.at > killed_at for r in fake.vendor_requests()), TIMEOUT_SECONDS, 0.05,
                 "the POS to see a request after the kill")
        resumed = min(r.at for r in fake.vendor_requests() if r.at > killed_at) - killed_at
        with contextlib.suppress(TimeoutError):
            wait_for(lambda: finished_count(s.database_url, shop.tenant_id) >= SYNCS, TIMEOUT_SECONDS, 0.5,
                     "every job to finish")
        jobs = jobs_of(s.database_url, shop.tenant_id)
        lost = sum(j.status != "succeeded" for j in jobs)
        emails = Counter(e for record in fake.state()["customers"]
                         for e in set(EMAIL.findall(json.dumps(record).lower())))
        twice = sum(n > 1 for n in emails.values())
        drained = time.time() - killed_at
    note = (f"possync worker --concurrency 2, SIGKILLed (process group) after {finished_at_kill} of {SYNCS} "
            f"new-customer syncs; R-Series fake bucket 10 draining 2/s; a new worker started at once (answered a "
            f"ping {ready:.1f} s after the kill); no beat "
            f"(no sweeper), POSSYNC_SWEEP_AFTER_SECONDS default; lost {lost}, created twice {twice}; "
            f"backlog drained {drained:.0f} s after the kill")
    return [Result("recovery: SIGKILL during a rate-limited backlog, kill -> next POS request", resumed, "s",
                   f"< {RESUME_TARGET_SECONDS:g} s, 0 lost, 0 twice",
                   resumed < RESUME_TARGET_SECONDS and lost == 0 and twice == 0, note)]


if __name__ == "__main__":
    print(render(run(lambda text: print(text, file=sys.stderr, flush=True))))
