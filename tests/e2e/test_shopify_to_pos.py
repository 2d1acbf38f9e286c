"""Signed Shopify webhooks in, POS customers out: the chain on each POS, through a real worker."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from possync.adapters.shopify.webhooks import customer_payload, order_payload
from possync.models.db import session_scope
from possync.models.tables import CustomerLink, JobStatus, SyncJob
from possync.tasks.operations import poll_now
from tests.e2e.harness import Shop, wait_for

ADDRESS = {"address1": "150 Elgin St", "city": "Ottawa", "provinceCode": "ON", "zip": "K2P 1L4",
           "countryCode": "CA"}


def jobs_of(db_url: str) -> list[SyncJob]:
    with session_scope(db_url) as session:
        return list(session.scalars(select(SyncJob).order_by(SyncJob.id)))


def finished(db_url: str, count: int = 1) -> list[SyncJob] | None:
    done = [j for j in jobs_of(db_url) if j.status in (JobStatus.SUCCEEDED.value, JobStatus.FAILED.value)]
    return done if len(done) >= count else None


def test_order_for_a_new_customer_creates_one_pos_customer(shop: Shop, db_url: str) -> None:
    customer_id = shop.shopify.add_customer("Jane", "Doe", "jane@example.com", "+1 613-555-1212", address=ADDRESS,
                                            email_consent="SUBSCRIBED")
    response = shop.send("orders/create", order_payload(customer=customer_payload(id=customer_id,
                                                                                  email="jane@example.com")))
    assert response.status_code == 200
    [job] = wait_for(lambda: finished(db_url), what="the sync job")
    assert job.status == JobStatus.SUCCEEDED.value, job.last_error
    assert job.outcome == "created"
    records = shop.pos.state()
    assert "jane@example.com" in str(records).lower()
    with session_scope(db_url) as session:
        link = session.scalar(select(CustomerLink))
        assert link is not None and link.shopify_customer_id == customer_id


def pos_requests_during(shop: Shop, action) -> int:  # type: ignore[no-untyped-def]
    before = len(shop.pos.vendor_requests())
    action()
    return len(shop.pos.vendor_requests()) - before


def test_returning_unchanged_customer_costs_one_request_and_no_write(shop: Shop, db_url: str) -> None:
    customer_id = shop.shopify.add_customer("Ann", "Lee", "ann@example.com", "+1 613-555-0101", address=ADDRESS)
    payload = customer_payload(id=customer_id, email="ann@example.com")
    shop.send("customers/update", payload)
    wait_for(lambda: finished(db_url, 1), what="first sync")

    def second() -> None:
        shop.send("customers/update", payload)
        wait_for(lambda: finished(db_url, 2), what="second sync")

    used = pos_requests_during(shop, second)
    job = jobs_of(db_url)[-1]
    assert job.status == JobStatus.SUCCEEDED.value and job.outcome == "unchanged", job.last_error
    assert used <= 1
    assert all(r.method == "GET" for r in shop.pos.vendor_requests()[-used:])


def test_a_changed_customer_is_updated_field_by_field(shop: Shop, db_url: str) -> None:
    customer_id = shop.shopify.add_customer("Bo", "Berg", "bo@example.com", "+1 613-555-0102", address=ADDRESS)
    payload = customer_payload(id=customer_id, email="bo@example.com")
    shop.send("customers/update", payload)
    wait_for(lambda: finished(db_url, 1), what="first sync")
    with shop.shopify.lock:  # the merchant edits the customer in Shopify
        shop.shopify._customers[customer_id]["last_name"] = "Bergman"
    shop.send("customers/update", payload)
    [_, job] = wait_for(lambda: finished(db_url, 2), what="second sync")
    assert job.outcome == "updated", job.last_error
    assert "Bergman" in str(shop.pos.state())


def test_a_repeated_delivery_syncs_once(shop: Shop, db_url: str) -> None:
    customer_id = shop.shopify.add_customer("Cy", "Dunn", "cy@example.com", None, address=ADDRESS)
    payload = customer_payload(id=customer_id, email="cy@example.com")
    for _ in range(3):
        assert shop.send("customers/create", payload, webhook_id="same-delivery").status_code == 200
    wait_for(lambda: finished(db_url, 1), what="the sync")
    assert len(jobs_of(db_url)) == 1


def test_simultaneous_events_for_a_new_customer_create_exactly_one(shop: Shop, db_url: str) -> None:
    import concurrent.futures

    customer_id = shop.shopify.add_customer("Di", "Eko", "di@example.com", "+1 613-555-0103", address=ADDRESS)
    customer = customer_payload(id=customer_id, email="di@example.com")
    sends = [("orders/create", order_payload(customer=customer)), ("customers/update", customer)] * 5
    with concurrent.futures.ThreadPoolExecutor(10) as pool:
        list(pool.map(lambda s: shop.send(*s), sends))
    wait_for(lambda: finished(db_url, 10), timeout=60, what="all ten syncs")
    assert all(j.status == JobStatus.SUCCEEDED.value for j in jobs_of(db_url)), [j.last_error for j in jobs_of(db_url)]
    assert sorted(j.outcome for j in jobs_of(db_url)).count("created") == 1
    assert str(shop.pos.state()).lower().count("di@example.com") == 1


@pytest.mark.parametrize(("kind", "opted_out"), [("lightspeed-r", '"noEmail": "true"'),
                                                 ("lightspeed-x", '"do_not_email": true')])
def test_rules_25_26_consent_reaches_an_existing_pos_customer_in_the_same_write(
        make_shop, db_url: str, kind: str, opted_out: str) -> None:  # type: ignore[no-untyped-def]
    """An unsubscribe newer than anything the POS holds reaches a matched in-store customer, with the
    other changes in one write (the consent step then has nothing left to send)."""
    shop = make_shop(kind, settings={"sync_pos_to_shopify": False})
    [pos_id] = shop.pos.seed([{"first_name": "Ola", "last_name": "Berg", "email": "ola@example.com"}])
    poll_now(shop.name)
    customer_id = shop.shopify.add_customer("Ola", "Bergman", "ola@example.com", None, address=ADDRESS,
                                            email_consent="UNSUBSCRIBED",
                                            consent_updated_at=(datetime.now(UTC) + timedelta(minutes=1)).isoformat())
    seen = len(shop.pos.vendor_requests())
    shop.send("customers/update", customer_payload(id=customer_id, email="ola@example.com"))
    [job] = wait_for(lambda: finished(db_url), what="the sync")
    assert job.status == JobStatus.SUCCEEDED.value and job.outcome == "updated", job.last_error
    assert job.context["pos_id"] == str(pos_id) and job.context.get("consent_written") == ["email_consent"]
    record = json.dumps(shop.pos.record(str(pos_id)))
    assert opted_out in record and "Bergman" in record
    writes = [r for r in shop.pos.vendor_requests()[seen:] if r.method in ("PUT", "POST")]
    assert len(writes) == 1
