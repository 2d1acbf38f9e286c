"""The SPEC rules the chain carries, end to end: refunds, retries, Heartland, archived links, replay."""

from __future__ import annotations

import time

import pytest
import redis
from sqlalchemy import select

from possync.adapters.shopify.webhooks import customer_payload, order_payload, refund_payload
from possync.models.db import session_scope
from possync.models.tables import JobStatus, SyncAttempt, Tenant
from possync.tasks.jobs import SHOPIFY_TO_POS_STEPS
from possync.tasks.operations import replay
from possync.tasks.steps import FRESH_READ_SECONDS
from tests.e2e.harness import KINDS, Shop, wait_for
from tests.e2e.test_shopify_to_pos import ADDRESS, finished, jobs_of


def attempts(db_url: str, job_id: int) -> list[SyncAttempt]:
    with session_scope(db_url) as session:
        return list(session.scalars(select(SyncAttempt).where(SyncAttempt.job_id == job_id)
                                    .order_by(SyncAttempt.started_at, SyncAttempt.id)))


def test_rule_1_a_refund_syncs_its_orders_customer(shop: Shop, db_url: str) -> None:
    customer_id = shop.shopify.add_customer("Fay", "Gil", "fay@example.com", None, address=ADDRESS)
    order_id = shop.shopify.add_order(customer_id)
    shop.send("refunds/create", refund_payload(order_id))
    [job] = wait_for(lambda: finished(db_url), what="the refund's sync")
    assert job.status == JobStatus.SUCCEEDED.value and job.outcome == "created", job.last_error
    assert job.subject == customer_id


def test_a_step_retried_many_times_continues_the_chain(shop: Shop, db_url: str) -> None:
    """Celery has open bugs around retries inside chains: six 503s in a row, then the chain goes on."""
    customer_id = shop.shopify.add_customer("Gus", "Hale", "gus@example.com", None, address=ADDRESS)
    shop.pos.inject(503, count=6)
    shop.send("customers/create", customer_payload(id=customer_id, email="gus@example.com"))
    [job] = wait_for(lambda: finished(db_url), timeout=120, what="the sync after six 503s")
    assert job.status == JobStatus.SUCCEEDED.value and job.outcome == "created", job.last_error
    outcomes = [a.outcome for a in attempts(db_url, job.id)]
    assert outcomes.count("retry") >= 4
    # Each step succeeded exactly once, in order: the retried step went on, and nothing before it re-ran.
    assert [a.step for a in attempts(db_url, job.id) if a.outcome == "ok"] == list(SHOPIFY_TO_POS_STEPS)


def test_a_429_storm_waits_without_using_the_retry_budget(shop: Shop, db_url: str) -> None:
    customer_id = shop.shopify.add_customer("Hal", "Ives", "hal@example.com", None, address=ADDRESS)
    shop.pos.inject(429, count=10, headers={"Retry-After": "0"})
    shop.send("customers/create", customer_payload(id=customer_id, email="hal@example.com"))
    [job] = wait_for(lambda: finished(db_url), timeout=120, what="the sync after a 429 storm")
    assert job.status == JobStatus.SUCCEEDED.value, job.last_error
    assert sum(a.outcome == "rate_limited" for a in attempts(db_url, job.id)) >= 5
    assert job.attempts == 0  # waits are not failures
    assert [a.step for a in attempts(db_url, job.id) if a.outcome == "ok"] == list(SHOPIFY_TO_POS_STEPS)


def test_rule_12_an_archived_link_is_dropped_and_a_new_customer_created(make_shop, db_url: str) -> None:  # type: ignore[no-untyped-def]
    shop = make_shop("lightspeed-r")
    customer_id = shop.shopify.add_customer("Ida", "Jay", "ida@example.com", None, address=ADDRESS)
    payload = customer_payload(id=customer_id, email="ida@example.com")
    shop.send("customers/update", payload)
    [first] = wait_for(lambda: finished(db_url), what="first sync")
    shop.pos.archive(first.context["pos_id"])
    shop.send("customers/update", payload)
    [_, second] = wait_for(lambda: finished(db_url, 2), what="second sync")
    assert second.outcome == "created", second.last_error
    assert second.context["pos_id"] != first.context["pos_id"]


def test_rule_22_heartland_without_address_fails_then_a_later_update_completes_it(make_shop, db_url: str) -> None:  # type: ignore[no-untyped-def]
    shop = make_shop("heartland")
    customer_id = shop.shopify.add_customer("Jo", "Kim", "jo@example.com", None)
    payload = customer_payload(id=customer_id, email="jo@example.com")
    shop.send("customers/create", payload)
    [failed] = wait_for(lambda: finished(db_url), what="the failed sync")
    assert failed.status == JobStatus.FAILED.value
    assert failed.last_error_class == "missing_fields" and "address" in failed.last_error
    assert shop.pos.records == [] or not shop.pos.records  # nothing half-created
    with shop.shopify.lock:
        shop.shopify._customers[customer_id]["addresses"] = [
            {"address1": "1 Main St", "city": "Austin", "province_code": "TX", "zip": "78701", "country_code": "US"}]
    shop.send("customers/update", payload)
    wait_for(lambda: len([j for j in jobs_of(db_url) if j.status == JobStatus.SUCCEEDED.value]) == 2,
             what="the update to succeed and supersede the failure")
    assert [j.outcome for j in jobs_of(db_url)] == ["superseded", "created"]


def test_rule_23_heartland_order_without_customer_uses_the_default_customer(make_shop, db_url: str) -> None:  # type: ignore[no-untyped-def]
    default_id = "7208000999999"
    shop = make_shop("heartland", settings={"default_customer_id": default_id})
    shop.shopify.add_customer("Walk", "In", "walkin@example.com", None, address=ADDRESS, id=default_id)
    shop.send("orders/create", order_payload(customer=None, email=None, source_name="pos"))
    [job] = wait_for(lambda: finished(db_url), what="the default-customer sync")
    assert job.status == JobStatus.SUCCEEDED.value, job.last_error
    assert job.context.get("default_customer") is True and job.context.get("pos_id")
    assert "walkin@example.com" in str(shop.pos.state())


def test_replay_resumes_a_failed_job_and_a_second_replay_does_nothing(shop: Shop, db_url: str) -> None:
    customer_id = shop.shopify.add_customer("Kai", "Lo", "kai@example.com", None, address=ADDRESS)
    shop.pos.inject(400, count=1, body={"message": "injected validation failure"})
    shop.send("customers/create", customer_payload(id=customer_id, email="kai@example.com"))
    [job] = wait_for(lambda: finished(db_url), what="the failed sync")
    assert job.status == JobStatus.FAILED.value and "400" in job.last_error
    counts = replay([job.id])
    assert counts["replayed"] == 1
    wait_for(lambda: jobs_of(db_url)[0].status == JobStatus.SUCCEEDED.value, what="the replayed job")
    assert replay([job.id]) == {"replayed": 0, "skipped": 1, "missing": 0}


def _archive(shop: Shop, pos_id: str) -> None:
    pos = shop.pos
    if shop.kind == "lightspeed-x":
        pos.delete(pos_id)  # type: ignore[attr-defined]  # X-Series' nearest thing to an archive
    else:
        pos.archive(pos_id)  # type: ignore[attr-defined]


@pytest.mark.parametrize("kind", KINDS)
def test_rule_37_a_link_archived_mid_sync_is_matched_again_in_the_same_job(
        make_shop, db_url: str, e2e_env: dict[str, str], kind: str) -> None:  # type: ignore[no-untyped-def]
    """The POS customer is archived after the job read it and before it writes (a lock wait between).

    The job must neither fail nor write to the archived record: it drops the link and matches again,
    here creating a new customer, in the same job.
    """
    shop = make_shop(kind)
    customer_id = shop.shopify.add_customer("Ivy", "Moss", "ivy@example.com", None, address=ADDRESS)
    payload = customer_payload(id=customer_id, email="ivy@example.com")
    shop.send("customers/update", payload)
    [first] = wait_for(lambda: finished(db_url), what="first sync")
    archived_id = first.context["pos_id"]
    with shop.shopify.lock:  # a change on the Shopify side, so the second sync has something to write
        shop.shopify._customers[customer_id]["last_name"] = "Moss-Hale"
    # Hold the customer's lock, so the second job reads its link and then waits before it writes.
    client = redis.Redis.from_url(e2e_env["POSSYNC_REDIS_URL"])
    lock_key = f"{e2e_env['POSSYNC_REDIS_KEY_PREFIX']}lock:{shop.name}:shopify:{customer_id}"
    client.set(lock_key, "held-by-the-test", px=60_000)
    try:
        shop.send("customers/update", payload)
        wait_for(lambda: any(j.step == "upsert_pos_customer" for j in jobs_of(db_url)[1:]),
                 what="the second job to read the link and wait at the upsert")
        _archive(shop, archived_id)
        seen_before = len(shop.pos.vendor_requests())
        time.sleep(FRESH_READ_SECONDS + 0.5)  # the reading the job holds is now too old to write on
    finally:
        client.delete(lock_key)
    [_, second] = wait_for(lambda: finished(db_url, 2), what="second sync", timeout=60)
    assert second.status == JobStatus.SUCCEEDED.value and second.outcome == "created", second.last_error
    assert second.context["pos_id"] != archived_id and second.context["rematched_from"] == archived_id
    writes = [r for r in shop.pos.vendor_requests()[seen_before:] if r.method in ("PUT", "POST", "PATCH")]
    written_ids = {r.path.rstrip("/").split("/")[-1].split(".")[0] for r in writes}
    assert writes and str(archived_id) not in written_ids, [r.path for r in writes]


def _change_polls(shop: Shop) -> int:
    """The POS fake's change-feed reads: R-Series `GET Customer.json` (an imported tenant searches nothing)."""
    return sum(r.method == "GET" and r.path.split("?")[0].endswith("/Customer.json")
               for r in shop.pos.vendor_requests())


def test_rule_36_jobs_that_arrived_before_a_catch_up_share_it(make_shop, db_url: str) -> None:  # type: ignore[no-untyped-def]
    """Six creates on an imported tenant, all arrived before any catch-up began: the first catch-up serves
    every one of them (the others wait for it rather than start their own), so the POS's change feed is
    read once for six creates, and each customer is created once."""
    from possync.tasks import jobs, onboarding
    from possync.tasks.operations import dispatch

    shop = make_shop("lightspeed-r")
    onboarding.import_here(shop.name, on_page=lambda _row: None)
    polls_before = _change_polls(shop)
    customers = [shop.shopify.add_customer("New", f"Person{i}", f"new{i}@example.com", None, address=ADDRESS)
                 for i in range(6)]
    with session_scope(db_url) as session:
        tenant_id = session.scalars(select(Tenant.id).where(Tenant.name == shop.name)).one()
        ids = [jobs.new_job(session, tenant_id=tenant_id, subject=c, context={"topic": "customers/update",
                                                                           "customer_id": c}).id
               for c in customers]
        session.commit()
    dispatch(ids)
    done = wait_for(lambda: finished(db_url, 6), what="the six creates", timeout=60)
    assert [(j.status, j.outcome) for j in done] == [("succeeded", "created")] * 6, [j.last_error for j in done]
    assert shop.pos.count_requests("POST") == 6
    assert _change_polls(shop) - polls_before == 1
