"""Repeated deliveries and simultaneous events: one effect each, one POS customer each.

Shopify delivers at least once and retries anything it did not see answered, so the same delivery (same
`X-Shopify-Webhook-Id`) can arrive several times, even at the same moment. And one checkout produces a
burst of different events about the same, new, customer. Neither may create a second POS customer.
"""

from __future__ import annotations

import concurrent.futures
from collections import Counter

import pytest

from possync.adapters.shopify.webhooks import customer_payload, order_payload
from possync.models.tables import JobStatus
from tests.e2e.harness import KINDS
from tests.resilience.conftest import Stack, pos_emails

ADDRESS = {"address1": "150 Elgin St", "city": "Ottawa", "provinceCode": "ON", "zip": "K2P 1L4",
           "countryCode": "CA"}
COPIES = 5
CUSTOMERS_PER_SHOP = 10
SIMULTANEOUS = 50
TOPICS = ("orders/create", "customers/create", "customers/update", "orders/updated")


@pytest.mark.resilience
@pytest.mark.timeout(120)
def test_each_delivery_posted_five_times_has_one_effect(stack: Stack) -> None:
    shops = [stack.shop(kind) for kind in KINDS]
    stack.start_worker(concurrency=2)
    sends = []
    for shop in shops:
        for index in range(CUSTOMERS_PER_SHOP):
            email = f"dup-{shop.kind}-{index}@res.example.com"
            customer_id = shop.shopify.add_customer("Dee", f"Up{index}", email, None, address=ADDRESS)
            payload = customer_payload(id=customer_id, email=email)
            sends += [(shop, payload, f"dup-{shop.name}-{index}")] * COPIES
    with concurrent.futures.ThreadPoolExecutor(COPIES * 2) as pool:
        statuses = list(pool.map(lambda s: s[0].send("customers/create", s[1], webhook_id=s[2]).status_code, sends))
    assert statuses == [200] * len(sends)  # a repeat is acknowledged too, or Shopify would keep sending it

    deliveries = len(sends) // COPIES
    jobs = stack.wait_sweeping(lambda: stack.events_settled() and stack.all_finished(deliveries), timeout=90,
                               what="one sync per delivery")
    assert len(stack.events()) == deliveries
    assert len(jobs) == deliveries
    assert [(j.id, j.last_error) for j in jobs if j.status != JobStatus.SUCCEEDED.value] == []
    for shop in shops:
        assert pos_emails(shop) == {f"dup-{shop.kind}-{i}@res.example.com": 1 for i in range(CUSTOMERS_PER_SHOP)}


@pytest.mark.resilience
@pytest.mark.timeout(150)
def test_fifty_simultaneous_events_about_one_new_customer_create_it_once(stack: Stack) -> None:
    shops = [stack.shop(kind) for kind in KINDS]
    stack.start_worker(concurrency=4)
    sends = []
    for shop in shops:
        email = f"burst-{shop.kind}@res.example.com"
        customer_id = shop.shopify.add_customer("Bea", "Burst", email, None, address=ADDRESS)
        customer = customer_payload(id=customer_id, email=email)
        for index in range(SIMULTANEOUS):
            topic = TOPICS[index % len(TOPICS)]
            payload = order_payload(id=9_000_000 + index, customer=customer) if topic.startswith("orders/") \
                else customer
            sends.append((shop, topic, payload))
    with concurrent.futures.ThreadPoolExecutor(25) as pool:
        statuses = list(pool.map(lambda s: s[0].send(s[1], s[2]).status_code, sends))
    assert statuses == [200] * len(sends)

    jobs = stack.wait_sweeping(lambda: stack.events_settled() and stack.all_finished(len(sends)), timeout=130,
                               what="all 150 syncs")
    assert [(j.id, j.last_error) for j in jobs if j.status != JobStatus.SUCCEEDED.value] == []
    created = Counter(j.tenant_id for j in jobs if j.outcome == "created")
    assert sorted(created.values()) == [1] * len(shops)  # one create per tenant; the other 49 found it
    for shop in shops:
        assert pos_emails(shop) == {f"burst-{shop.kind}@res.example.com": 1}
