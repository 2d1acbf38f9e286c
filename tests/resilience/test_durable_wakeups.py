"""A worker SIGKILLed while a rate-limited backlog drains, with the default sweep age: the POS sees
requests again once another worker runs, and every job finishes without the sweeper, none lost, none twice.

The jobs waiting on the tenant's rate limit are in Redis (the fair lines' due-time index), not in the
killed worker's memory as ETA messages; the jobs it was running come back when their ticket's lease
lapses (`possync.worker.fairqueue.LEASE_SECONDS`). The test never runs the sweeper, and the workers' sweep age
is the default (300 s), so nothing here is the sweeper's doing.
"""

from __future__ import annotations

import time

import pytest

from possync.adapters.lightspeed_r.fake import FakeServer as LightspeedRFake
from possync.adapters.shopify.webhooks import customer_payload
from possync.models.tables import JobStatus
from possync.worker.fairqueue import LEASE_SECONDS
from tests.e2e.harness import wait_for
from tests.resilience.conftest import ADDRESS, Stack, pos_emails

SYNCS = 24
DEFAULT_SWEEP_AGE = "300"


@pytest.mark.resilience
@pytest.mark.timeout(300)
def test_a_killed_workers_waiting_jobs_resume_without_the_sweeper(stack: Stack) -> None:
    fake = LightspeedRFake(access_token="lsr-bench-token", bucket_size=10.0, drip_rate=2.0)
    shop = stack.shop("lightspeed-r", pos=fake)
    first = stack.start_worker(concurrency=2, POSSYNC_SWEEP_AFTER_SECONDS=DEFAULT_SWEEP_AGE)
    emails = [f"wake{i}@res.example.com" for i in range(SYNCS)]
    for i, email in enumerate(emails):
        customer_id = shop.shopify.add_customer("Ada", f"Wake{i}", email, None, address=ADDRESS)
        assert shop.send("customers/create", customer_payload(id=customer_id, email=email)).status_code == 200

    def finished() -> int:
        return sum(j.status == JobStatus.SUCCEEDED.value for j in stack.jobs())

    wait_for(lambda: finished() >= 4, timeout=120, interval=0.2, what="the backlog to start draining")
    stack.kill_worker(first)
    killed_at = time.time()
    assert finished() < SYNCS, "the backlog ran out before the kill; the test proves nothing"
    stack.start_worker(concurrency=2, POSSYNC_SWEEP_AFTER_SECONDS=DEFAULT_SWEEP_AGE)

    wait_for(lambda: any(r.at > killed_at for r in fake.vendor_requests()), timeout=LEASE_SECONDS + 30,
             interval=0.2, what="the POS to see a request after the kill")
    jobs = wait_for(lambda: stack.all_finished(SYNCS), timeout=200, interval=0.5,
                    what="every job to finish without the sweeper")
    assert stack.swept_jobs == 0 and stack.swept_events == 0
    assert [(j.id, j.last_error) for j in jobs if j.status != JobStatus.SUCCEEDED.value] == []
    assert len({j.event_id for j in jobs}) == SYNCS  # one job per delivery
    assert pos_emails(shop) == dict.fromkeys(emails, 1)  # each customer created once
