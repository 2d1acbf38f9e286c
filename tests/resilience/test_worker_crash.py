"""A worker killed with SIGKILL in the middle of a POS write: the job still completes, once.

The POS fakes answer every request after 2 s, so the kill lands while the upsert's request is on the
wire. The vendor finishes that request anyway (as a real one would: the client vanishing does not undo
a write), so the customer may already exist when the job runs again. The new worker must find it
instead of creating a second one. The killed worker's customer locks expire after
`possync.worker.locks.LOCK_TIMEOUT_SECONDS` (20 s) after their last renewal.
"""

from __future__ import annotations

import time

import pytest

from possync.adapters.shopify.webhooks import customer_payload
from possync.models.tables import JobStatus
from tests.e2e.harness import KINDS, wait_for
from tests.resilience.conftest import Stack, pos_emails

ADDRESS = {"address1": "150 Elgin St", "city": "Ottawa", "provinceCode": "ON", "zip": "K2P 1L4",
           "countryCode": "CA"}
POS_LATENCY_SECONDS = 2.0


@pytest.mark.resilience
@pytest.mark.timeout(180)
def test_a_worker_killed_mid_upsert_completes_the_job_once(stack: Stack) -> None:
    shops = [stack.shop(kind) for kind in KINDS]
    first = stack.start_worker(concurrency=len(shops))
    for shop in shops:
        shop.pos.latency = POS_LATENCY_SECONDS
        email = f"crash-{shop.kind}@res.example.com"
        customer_id = shop.shopify.add_customer("Ada", "Crash", email, None, address=ADDRESS)
        assert shop.send("customers/create", customer_payload(id=customer_id, email=email)).status_code == 200

    def all_upserting() -> bool:
        jobs = stack.jobs()
        return len(jobs) == len(shops) and all(
            j.step == "upsert_pos_customer" and j.status == JobStatus.RUNNING.value for j in jobs)

    wait_for(all_upserting, timeout=30, interval=0.05, what="every job to be inside its upsert")
    time.sleep(POS_LATENCY_SECONDS / 2)  # the create request is now in flight at each vendor
    stack.kill_worker(first)
    assert all(j.step == "upsert_pos_customer" and j.status == JobStatus.RUNNING.value for j in stack.jobs())

    stack.start_worker(concurrency=len(shops))
    jobs = stack.wait_sweeping(lambda: stack.all_finished(len(shops)), timeout=140,
                               what="the interrupted jobs to finish after a new worker and the sweeper")
    for job in jobs:
        assert job.status == JobStatus.SUCCEEDED.value, (job.id, job.last_error)
    for shop in shops:
        assert pos_emails(shop) == {f"crash-{shop.kind}@res.example.com": 1}, shop.kind
