"""A POS answering 429 (with Retry-After) or 503 to every request for 30 s.

A 429 sets a cooldown for the tenant that every worker honours: no request may reach the vendor until
`Retry-After` has passed (checked against the fake's own request log). A 503 is retried with
exponential back-off and jitter. Waits for 429s are free; 503s use the job's retry budget, which must
outlast a 30 s outage. Either way, every sync completes once the vendor answers again.

The worker here runs with a back-off cap of 16 s instead of the suite's 1 s (production: 600 s), with the
default 8 attempts: with a 1 s cap the 8 attempts would be spent in under 10 s, which says nothing about
production. With a 16 s cap the attempts last at least 1+2+4+8*4 = 39 s.
"""

from __future__ import annotations

import time

import pytest

from possync.adapters.fakes.server import FakeVendorServer
from possync.adapters.shopify.webhooks import customer_payload
from possync.models.tables import JobStatus
from tests.e2e.harness import KINDS
from tests.resilience.conftest import Stack, pos_emails

ADDRESS = {"address1": "150 Elgin St", "city": "Ottawa", "provinceCode": "ON", "zip": "K2P 1L4",
           "countryCode": "CA"}
OUTAGE_SECONDS = 30.0  # the figure, kept
RETRY_AFTER_SECONDS = 5
CUSTOMERS_PER_SHOP = 3
# A request already on the wire when the 429 came back is not a violation: it was sent before anyone
# could know. The fake logs a request when it answers, so allow this much after each 429.
IN_FLIGHT_TOLERANCE = 0.25


def requests_inside_cooldowns(fake: FakeVendorServer, retry_after: float) -> list[tuple[float, float]]:
    """(429 answered at, request answered at) for every request answered inside a 429's Retry-After window."""
    log = fake.vendor_requests()
    limited = [r.at for r in log if r.status == 429]
    return [(t, r.at) for t in limited for r in log
            if t + IN_FLIGHT_TOLERANCE < r.at < t + retry_after - IN_FLIGHT_TOLERANCE]


@pytest.mark.resilience
@pytest.mark.timeout(150)
def test_a_pos_refusing_every_request_for_30_s_is_waited_out(stack: Stack) -> None:
    limited = [stack.shop(kind) for kind in KINDS]
    down = [stack.shop(kind) for kind in KINDS]
    stack.start_worker(concurrency=4, POSSYNC_RETRY_BACKOFF_MAX_SECONDS="16")
    for shop in limited:
        shop.pos.inject(429, for_seconds=OUTAGE_SECONDS, headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
                        body={"message": "Too Many Requests"})
    for shop in down:
        shop.pos.inject(503, for_seconds=OUTAGE_SECONDS, body={"message": "Service Unavailable"})
    outage_ends = time.time() + OUTAGE_SECONDS
    shops = limited + down
    for shop in shops:
        for index in range(CUSTOMERS_PER_SHOP):
            email = f"outage-{shop.name}-{index}@res.example.com"
            customer_id = shop.shopify.add_customer("Otto", f"Age{index}", email, None, address=ADDRESS)
            assert shop.send("customers/create", customer_payload(id=customer_id, email=email)).status_code == 200

    jobs = stack.wait_sweeping(lambda: stack.all_finished(len(shops) * CUSTOMERS_PER_SHOP), timeout=120,
                               what="every sync after the vendors recover")
    assert [(j.id, j.last_error) for j in jobs if j.status != JobStatus.SUCCEEDED.value] == []
    for shop in shops:
        assert pos_emails(shop) == {f"outage-{shop.name}-{i}@res.example.com": 1 for i in range(CUSTOMERS_PER_SHOP)}
        answered_ok = [r.at for r in shop.pos.vendor_requests() if r.status < 400]
        assert min(answered_ok) >= outage_ends - 0.05, shop.kind  # nothing got through the outage
    for shop in limited:
        statuses = [r.status for r in shop.pos.vendor_requests()]
        # The vendor was asked again about once per window, not hammered (6 windows in 30 s, a few jobs each).
        assert 5 <= statuses.count(429) <= 6 * CUSTOMERS_PER_SHOP * 2, (shop.kind, statuses.count(429))
        assert requests_inside_cooldowns(shop.pos, RETRY_AFTER_SECONDS) == [], shop.kind
    for shop in down:
        assert sum(r.status == 503 for r in shop.pos.vendor_requests()) >= CUSTOMERS_PER_SHOP, shop.kind
    # 429 waits are free: only the 503s were charged to the retry budget.
    limited_ids = {j.id for j in jobs if j.tenant_id in tenant_ids(stack, limited)}
    assert all(j.attempts == 0 for j in jobs if j.id in limited_ids)
    assert all(0 < j.attempts < 8 for j in jobs if j.id not in limited_ids)


def tenant_ids(stack: Stack, shops: list) -> set[int]:  # type: ignore[type-arg]
    from sqlalchemy import select

    from possync.models.db import session_scope
    from possync.models.tables import Tenant

    with session_scope(stack.db_url) as session:
        return set(session.scalars(select(Tenant.id).where(Tenant.name.in_([s.name for s in shops]))))
