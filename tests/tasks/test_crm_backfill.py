"""`possync crm backfill` (SPEC rule 40): every Shopify customer once, resumable, refusals in the failed list."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from possync.adapters.freshsales.fake import FakeFreshsales
from possync.adapters.shopify.fake import FakeShopify
from possync.models.tables import CrmLink, CrmState, JobStatus, SyncJob
from possync.models.tenant_file import validate_tenant_data
from possync.models.tenants import apply_tenant, load_context
from possync.tasks.clients import crm_adapter_for, shopify_client_for
from possync.tasks.crm_backfill import COMPLETE, estimate, run_backfill

KEY = "fs-backfill-key-0123456789"


@pytest.fixture
def stack(onboarding_env: str, session: Session, secret_key: str) -> Iterator[dict[str, Any]]:
    shopify = FakeShopify("shpat_backfill", shop_domain="bf.myshopify.com", maximum_available=None)
    crm = FakeFreshsales(KEY, with_setup=True)
    shopify.start()
    crm.start()
    data = {"name": "bf", "account_name": "bfstore",
            "shopify": {"shop_domain": "bf.myshopify.com", "access_token": "shpat_backfill", "client_secret": "s",
                        "api_base_url": shopify.url},
            "pos": None, "crm": {"kind": "freshsales", "base_url": crm.url, "api_key": KEY}}
    tenant, _ = apply_tenant(session, validate_tenant_data(data), secret_key)
    session.commit()
    yield {"shopify": shopify, "crm": crm, "tenant": load_context(tenant, secret_key)}
    shopify.stop()
    crm.stop()


def backfill(session: Session, stack: dict[str, Any], **kwargs: Any) -> Any:
    tenant = stack["tenant"]
    return run_backfill(session, tenant, shopify_client_for(tenant), crm_adapter_for(tenant), **kwargs)


def test_every_customer_becomes_a_contact_and_a_second_run_writes_nothing(stack, session: Session) -> None:  # type: ignore[no-untyped-def]
    for i in range(170):  # two Shopify pages of the full listing
        stack["shopify"].add_customer(f"C{i}", "Doe", f"c{i}@example.com", None, orders_count=i % 3)
    told = []
    row, counts = backfill(session, stack, on_start=told.append)
    assert row.backfill_status == COMPLETE and row.backfill_done == 170 and counts.written == 170
    assert told[0].customers == 170 and "170 customers" in told[0].describe()
    assert len(stack["crm"].state()["contacts"]) == 170
    assert stack["crm"].count_requests("POST", "/contacts/upsert") == 170  # one request a customer
    row, counts = backfill(session, stack)
    assert counts.unchanged == 170 and counts.written == 0
    assert stack["crm"].count_requests("POST", "/contacts/upsert") == 170


def test_a_crashed_backfill_resumes_after_the_last_page_done(stack, session: Session) -> None:  # type: ignore[no-untyped-def]
    for i in range(170):
        stack["shopify"].add_customer(f"C{i}", "Doe", f"c{i}@example.com", None)

    def crash(row: CrmState) -> None:
        if row.backfill_done == 168:
            raise KeyboardInterrupt("killed")

    with pytest.raises(KeyboardInterrupt):
        backfill(session, stack, on_customer=crash)
    session.rollback()  # what the killed process had not committed is gone
    state = session.get(CrmState, stack["tenant"].id, populate_existing=True)
    # A killed process leaves it running, with the cursor after the last committed page.
    assert state.backfill_status == "running" and state.backfill_cursor is not None and state.backfill_done == 166
    row, counts = backfill(session, stack)
    assert row.backfill_status == COMPLETE and row.backfill_done == 170
    assert counts.written == 4  # the second page only: the first is not read again
    assert len(session.scalars(select(CrmLink)).all()) == 170 and len(stack["crm"].state()["contacts"]) == 170


def test_a_refused_customer_is_a_failed_crm_job_and_the_rest_go_on(stack, session: Session) -> None:  # type: ignore[no-untyped-def]
    stack["shopify"].add_customer("Ok", "One", "ok@example.com", None)
    stack["shopify"].add_customer("Bad", "Two", "bad@nowhere", None)
    stack["shopify"].add_customer("Ok", "Three", "ok3@example.com", None)
    row, counts = backfill(session, stack)
    assert row.backfill_status == COMPLETE and (counts.written, counts.refused) == (2, 1)
    [job] = session.scalars(select(SyncJob)).all()
    assert job.status == JobStatus.FAILED.value and job.direction == "shopify_to_crm"
    assert job.last_error.startswith("tenant bf, field emails:") and "Invalid email" in job.last_error


def test_the_estimate_says_most_of_a_day_for_twenty_thousand_at_a_thousand_an_hour() -> None:
    told = estimate(20_000, 0, 1000, 1000)
    assert told.seconds == pytest.approx(1000 / 400 * 60 + 19_000 * 3.6)
    assert "about 19.0 hours" in told.describe()
    assert estimate(None, 0, 1000, 10).seconds is None
