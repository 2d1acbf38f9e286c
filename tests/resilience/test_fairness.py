"""One tenant's backlog on a shared queue and worker does not hold up another tenant's live sync.

Tenant A (R-Series, its documented bucket: 90 units draining 1 a second) has `BACKLOG` syncs queued at
once, and its Shopify answers each read after 0.3 s, so taking A's messages one after another costs
the worker many seconds. Tenant B, on the same `pos.lightspeed_r` queue and the same worker, then gets
one webhook. With one first-in-first-out queue B's job would start only after every one of A's messages
had been taken; with the fair lines it has at most the broker queue's depth of A's messages ahead of
it. The test asserts that order (most of A's jobs untouched when B's has succeeded), not a time.
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from possync.adapters.shopify.webhooks import customer_payload
from possync.models.db import session_scope
from possync.models.tables import JobStatus, SyncAttempt, SyncJob, Tenant
from testing.stack import queue_syncs
from tests.e2e.harness import make_pos_fake, wait_for
from tests.resilience.conftest import ADDRESS, Stack, pos_emails

BACKLOG = 300
SHOPIFY_LATENCY_SECONDS = 0.3


def _tenant_id(stack: Stack, name: str) -> int:
    with session_scope(stack.db_url) as session:
        return session.scalars(select(Tenant.id).where(Tenant.name == name)).one()


def _untouched(stack: Stack, tenant_id: int) -> int:
    """The tenant's jobs no worker has run yet: no attempt recorded and still at their first step."""
    with session_scope(stack.db_url) as session:
        touched = select(SyncAttempt.job_id).distinct()
        return session.scalar(select(func.count()).select_from(SyncJob).where(
            SyncJob.tenant_id == tenant_id, SyncJob.status == JobStatus.PENDING.value,
            SyncJob.step == "fetch_customer", SyncJob.id.not_in(touched))) or 0


@pytest.mark.resilience
@pytest.mark.timeout(240)
def test_a_small_tenant_syncs_while_a_big_ones_backlog_waits(stack: Stack) -> None:
    big = stack.shop("lightspeed-r", pos=make_pos_fake("lightspeed-r", rate_limited=True))
    small = stack.shop("lightspeed-r")
    big.shopify.latency = SHOPIFY_LATENCY_SECONDS
    stack.start_worker(concurrency=2)
    customers = [big.shopify.add_customer("Big", f"Backlog{i}", f"big{i}@res.example.com", None, address=ADDRESS)
                 for i in range(BACKLOG)]
    big_id = _tenant_id(stack, big.name)
    queue_syncs(stack.db_url, big_id, customers)

    email = "small@res.example.com"
    customer_id = small.shopify.add_customer("Ada", "Small", email, None, address=ADDRESS)
    assert small.send("customers/create", customer_payload(id=customer_id, email=email)).status_code == 200
    small_id = _tenant_id(stack, small.name)

    def small_synced() -> bool:
        return any(j.tenant_id == small_id and j.status == JobStatus.SUCCEEDED.value for j in stack.jobs())

    wait_for(small_synced, timeout=200, interval=0.2, what="the small tenant's job to succeed")
    untouched = _untouched(stack, big_id)
    assert untouched >= BACKLOG // 2, f"only {untouched} of A's {BACKLOG} jobs were still untouched"
    assert pos_emails(small) == {email: 1}
