"""PostgreSQL stopped for 10 s while deliveries arrive.

The receiver's one promise to Shopify is that a 200 means "stored". With the database gone it must
answer 503 (Shopify retries those deliveries), never 200. Work already accepted is only delayed: intake
tasks and chain steps that ran into the outage come back in their fair lines when their ticket's lease
lapses, or are found again by the sweeper once the database is back.
"""

from __future__ import annotations

import time

import pytest

from possync.adapters.shopify.webhooks import customer_payload
from possync.models.tables import JobStatus
from tests.e2e.harness import KINDS, Shop
from tests.resilience.conftest import Stack, pos_emails

ADDRESS = {"address1": "150 Elgin St", "city": "Ottawa", "provinceCode": "ON", "zip": "K2P 1L4",
           "countryCode": "CA"}
OUTAGE_SECONDS = 10.0
BEFORE = 5  # deliveries per shop answered before the outage
DURING = 5  # deliveries per shop sent during it
POS_LATENCY_SECONDS = 0.3  # keeps chains in flight when the database goes


@pytest.mark.resilience
@pytest.mark.timeout(180)
def test_deliveries_during_a_database_outage_get_503_and_accepted_ones_sync_afterwards(stack: Stack) -> None:
    shops = [stack.shop(kind) for kind in KINDS]
    stack.start_worker(concurrency=2)
    deliveries: list[tuple[Shop, str, dict]] = []  # type: ignore[type-arg]
    for shop in shops:
        shop.pos.latency = POS_LATENCY_SECONDS
        for index in range(BEFORE + DURING):
            email = f"pg-{shop.kind}-{index}@res.example.com"
            customer_id = shop.shopify.add_customer("Pat", f"Gres{index}", email, None, address=ADDRESS)
            deliveries.append((shop, f"pg-{shop.name}-{index}", customer_payload(id=customer_id, email=email)))
    before = [d for d in deliveries if int(d[1].rsplit("-", 1)[1]) < BEFORE]
    during = [d for d in deliveries if int(d[1].rsplit("-", 1)[1]) >= BEFORE]

    for shop, webhook_id, payload in before:
        assert shop.send("customers/create", payload, webhook_id=webhook_id).status_code == 200
    stack.pg.stop()
    stopped = time.monotonic()
    answers = []
    for shop, webhook_id, payload in during:
        started = time.monotonic()
        answers.append((shop.send("customers/create", payload, webhook_id=webhook_id).status_code,
                        time.monotonic() - started))
        time.sleep(OUTAGE_SECONDS / len(during) / 2)
    stack.sweep()  # beat keeps ticking during the outage; the sweep fails and is tried again later
    time.sleep(max(0.0, OUTAGE_SECONDS - (time.monotonic() - stopped)))
    stack.pg.start()

    assert [status for status, _ in answers] == [503] * len(during)  # never a 200 for something unstored
    assert max(seconds for _, seconds in answers) < 5.0  # inside Shopify's timeout, so it retries
    assert stack.last_sweep_error is not None
    for shop, webhook_id, payload in during:  # Shopify's retries of the refused deliveries
        assert shop.send("customers/create", payload, webhook_id=webhook_id).status_code == 200

    jobs = stack.wait_sweeping(lambda: stack.events_settled() and stack.all_finished(len(deliveries)), timeout=120,
                               what="every accepted delivery to be synced after the outage")
    assert len(jobs) == len(deliveries) == len(stack.events())
    assert [(j.id, j.last_error) for j in jobs if j.status != JobStatus.SUCCEEDED.value] == []
    for shop in shops:
        assert pos_emails(shop) == {f"pg-{shop.kind}-{i}@res.example.com": 1 for i in range(BEFORE + DURING)}
    recovered = stack.swept_jobs + stack.swept_events + stack.lease_recoveries()
    assert recovered > 0, "the outage interrupted nothing: the test proved too little"
