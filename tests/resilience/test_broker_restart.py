"""Redis (the broker, the limiter and the locks) restarted while 300 events are in flight.

Redis runs without persistence, so a restart loses every queued and unacknowledged message. What
survives is PostgreSQL: each delivery is an event row before it is answered, and each sync is a job
row. The sweeper (run here in the test process, as beat would) enqueues events whose message was never
handed over or was lost, and re-enqueues jobs that stopped moving; steps are idempotent, so nothing is
synced twice.

Redis goes down twice: once while the deliveries arrive (some are stored while the broker is gone, the
rest are queued intake messages that the restart drops) and once in the middle of the syncs (queued and
running chain steps, the limiter's buckets and the customer locks are dropped).

The 300 customers are spread over 15 tenants, because possync's own limiter holds each tenant to its
vendor's documented rate (R-Series drips 1 request/s), and 100 customers on one tenant would take minutes.
"""

from __future__ import annotations

import concurrent.futures
import threading
import time

import pytest

from possync.adapters.shopify.webhooks import customer_payload
from possync.models.tables import JobStatus
from tests.e2e.harness import KINDS, Shop, wait_for
from tests.resilience.conftest import ADDRESS, Stack, assert_each_created_once

TENANTS_PER_KIND = 5
PER_SHOP = 20  # 3 kinds x 5 tenants x 20 customers = 300 events
FIRST_RESTART_AFTER = 150  # deliveries answered
SECOND_RESTART_AFTER = 100  # jobs succeeded
DOWN_SECONDS = 1.0


def email_of(shop: Shop, index: int) -> str:
    return f"broker-{shop.name}-{index}@res.example.com"


def restart(stack: Stack) -> None:
    stack.redis.stop()  # SIGKILL: queued and unacknowledged messages are gone
    time.sleep(DOWN_SECONDS)
    stack.redis.start()


@pytest.mark.resilience
@pytest.mark.timeout(240)
def test_redis_restart_with_300_events_in_flight_syncs_each_once(stack: Stack) -> None:
    shops = [stack.shop(kind) for kind in KINDS for _ in range(TENANTS_PER_KIND)]
    stack.start_worker(concurrency=4)
    sends = []
    for index in range(PER_SHOP):
        for shop in shops:
            customer_id = shop.shopify.add_customer("Red", f"Is{index}", email_of(shop, index), None, address=ADDRESS)
            sends.append((shop, customer_payload(id=customer_id, email=email_of(shop, index))))

    answered: list[int] = []
    lock = threading.Lock()

    def send(item: tuple[Shop, dict]) -> int:  # type: ignore[type-arg]
        shop, payload = item
        status = shop.send("customers/create", payload).status_code
        with lock:
            answered.append(status)
        return status

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        futures = [pool.submit(send, item) for item in sends]
        wait_for(lambda: len(answered) >= FIRST_RESTART_AFTER, timeout=60, interval=0.01, what="the first deliveries")
        restart(stack)
        statuses = [f.result() for f in futures]
    assert statuses == [200] * len(sends)  # the database was up: every delivery was stored and answered

    def succeeded() -> int:
        return sum(j.status == JobStatus.SUCCEEDED.value for j in stack.jobs())

    stack.wait_sweeping(lambda: succeeded() >= SECOND_RESTART_AFTER, timeout=90, what="a third of the syncs")
    restart(stack)

    jobs = stack.wait_sweeping(lambda: stack.events_settled() and stack.all_finished(len(sends)), timeout=150,
                               what="all 300 syncs after the Redis restarts")
    assert_each_created_once(jobs, len(sends), shops, lambda shop: [email_of(shop, i) for i in range(PER_SHOP)])
