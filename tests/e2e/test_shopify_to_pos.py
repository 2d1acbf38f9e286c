"""Signed Shopify webhooks in, POS customers out: the chain on each POS, through a real worker."""

from __future__ import annotations

from sqlalchemy import select

from adapters.shopify.webhooks import customer_payload, order_payload
from models.db import session_scope
from models.tables import CustomerLink, JobStatus, SyncJob
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
