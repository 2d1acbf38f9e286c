"""Redis behind Sentinel (`POSSYNC_REDIS_URL=sentinel://...`): failovers while syncs run lose nothing and
sync nothing twice.

`SENTINEL FAILOVER` promotes the replica at once, but the worker's and the receiver's open connections
stay on the old master until the sentinels turn it into a replica about ten seconds later and close
them; what was written there meanwhile (queued steps, acknowledgements, limiter buckets, locks) is lost
when it resynchronises from the new master. The sweeper (run here as beat would) re-enqueues the events
and jobs that stopped moving, and steps are idempotent. Before that, the first master is killed: the
clients find the next one through the sentinels.

Every vendor request takes POS_LATENCY seconds, so the syncs are still running through both failovers.
"""

from __future__ import annotations

import concurrent.futures

import pytest

from possync.adapters.shopify.webhooks import customer_payload
from possync.models.tables import JobStatus, SyncJob
from tests.e2e.harness import KINDS, Shop
from tests.resilience.conftest import ADDRESS, Stack, assert_each_created_once
from tests.resilience.servers import SentinelGroup

TENANTS_PER_KIND = 2
PER_SHOP = 15  # 3 kinds x 2 tenants x 15 customers = 90 events
POS_LATENCY = 0.3  # seconds per vendor request: about 3 syncs a second on 4 worker processes
FAILOVER_AFTER = 10  # jobs succeeded


def email_of(shop: Shop, index: int) -> str:
    return f"sentinel-{shop.name}-{index}@res.example.com"


@pytest.mark.resilience
@pytest.mark.timeout(180)
def test_failovers_while_syncs_run_sync_each_customer_once(sentinel_stack: Stack) -> None:
    stack = sentinel_stack
    group = stack.redis
    assert isinstance(group, SentinelGroup)
    shops = [stack.shop(kind) for kind in KINDS for _ in range(TENANTS_PER_KIND)]
    stack.start_worker(concurrency=4)
    sends = []
    for shop in shops:
        shop.pos.latency = POS_LATENCY
        for index in range(PER_SHOP):
            customer_id = shop.shopify.add_customer("Sen", f"Tinel{index}", email_of(shop, index), None,
                                                    address=ADDRESS)
            sends.append((shop, customer_payload(id=customer_id, email=email_of(shop, index))))

    def succeeded() -> int:
        return sum(j.status == JobStatus.SUCCEEDED.value for j in stack.jobs())

    masters = [group.master()]
    done_at_failover = []
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        futures = [pool.submit(lambda item: item[0].send("customers/create", item[1]).status_code, item)
                   for item in sends]
        stack.wait_sweeping(lambda: succeeded() >= FAILOVER_AFTER, timeout=60, what="the first syncs")
        done_at_failover.append(succeeded())
        masters.append(group.kill_master())
        statuses = [f.result() for f in futures]
    assert statuses == [200] * len(sends)
    group.wait_settled()  # the restarted server is the new master's replica: the next failover can go there
    done_at_failover.append(succeeded())
    # The master as it is now: on a loaded machine the sentinels may have failed over once more by themselves.
    masters.append(group.master())
    masters.append(group.failover())

    def all_synced() -> list[SyncJob] | None:
        return stack.all_finished(len(sends)) if stack.events_settled() else None

    stack.wait_sweeping(all_synced, timeout=90, what="all syncs after the failovers")
    group.wait_settled()  # the demoted master's clients were sent away: what they wrote there is gone now
    jobs = stack.wait_sweeping(all_synced, timeout=30, what="all syncs once the old master was demoted")
    assert masters[0] is not masters[1] and masters[2] is not masters[3]
    assert max(done_at_failover) < len(sends) - 30, done_at_failover  # both came while syncs ran
    assert_each_created_once(jobs, len(sends), shops, lambda shop: [email_of(shop, i) for i in range(PER_SHOP)])
