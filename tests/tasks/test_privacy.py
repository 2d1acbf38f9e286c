"""SPEC rules 27-29: export, erase (told apart from a merge), erase a shop."""

from __future__ import annotations

import json

from sqlalchemy import func, select

from possync.adapters.base import PosCustomer
from possync.adapters.shopify.webhooks import customer_redact_payload, merge_payload, order_payload
from possync.models import links, pos_index
from possync.models.customer import Address, Customer
from possync.models.near_matches import record_near_match
from possync.models.tables import (
    Base,
    CustomerLink,
    EventStatus,
    InboundEvent,
    NearMatch,
    PosIndexEntry,
    PosStatus,
    SyncAttempt,
    SyncJob,
    Tenant,
)
from possync.models.tenant_file import validate_tenant_data
from possync.models.tenants import apply_tenant
from possync.tasks import jobs
from possync.tasks.intake import handle_event
from possync.tasks.privacy import erase_customer, export_customer, redact_shop

TENANT = {"name": "acme", "account_name": "acmestore",
          "shopify": {"shop_domain": "acme.myshopify.com", "access_token": "t", "client_secret": "s"},
          "pos": {"kind": "lightspeed-r", "account_id": "1", "access_token": "t"}}


def seed(session, secret_key: str) -> Tenant:  # type: ignore[no-untyped-def]
    tenant, _ = apply_tenant(session, validate_tenant_data(TENANT), secret_key)
    body = json.dumps(order_payload(customer={"id": 42, "email": "jane@example.com"})).encode()
    event = InboundEvent(tenant_id=tenant.id, webhook_id="w1", topic="orders/create", body=body,
                         status=EventStatus.PROCESSED.value, headers={"X-Shopify-Topic": "orders/create"})
    session.add(event)
    session.flush()
    jobs.new_job(session, tenant_id=tenant.id, subject="42", event_id=event.id,
                 context={"shopify_customer": {"customer": {"email": "jane@example.com"}}})
    pos_index.index_customers(session, tenant.id, [PosCustomer("7", PosStatus.ACTIVE, Customer(
        email="jane@example.com", phone="6135551212"))], "US")
    links.save_link(session, tenant.id, "42", "7")
    session.commit()
    return tenant


def test_rule_28_export_holds_everything_about_the_customer(session, secret_key: str) -> None:  # type: ignore[no-untyped-def]
    tenant = seed(session, secret_key)
    data = export_customer(session, tenant.id, "42")
    assert data["link"]["pos_customer_id"] == "7"
    assert data["pos_index"][0]["email_key"] == "jane@example.com"
    assert len(data["sync_jobs"]) == 1 and len(data["events"]) == 1
    assert "jane@example.com" in json.dumps(data)


def test_rule_28_export_holds_the_pos_record_the_index_keeps(session, secret_key: str) -> None:  # type: ignore[no-untyped-def]
    """A Heartland record kept whole in the index (issue #14: the poll's reading) is personal data too."""
    tenant = seed(session, secret_key)
    kept = Customer(email="jane@example.com", phone="6135551212", billing_address=Address(address1="1 Main St"))
    record = PosCustomer("7", PosStatus.ACTIVE, kept, vendor_state={"address_id": 3})
    pos_index.index_customers(session, tenant.id, [record], "US", whole=True)
    session.commit()
    exported = json.dumps(export_customer(session, tenant.id, "42")["pos_index"])
    assert "1 Main St" in exported
    erase_customer(session, tenant.id, "42")
    session.commit()
    assert held_anywhere(session, "1 Main St") == []


def held_anywhere(session, text: str) -> list[str]:  # type: ignore[no-untyped-def]
    """The tables holding `text` in any column, read straight from the database (not through the export)."""
    return [table.name for table in Base.metadata.sorted_tables
            if any(text in json.dumps(list(row), default=str) for row in session.execute(select(table)))]


def test_rule_27_erasure_keeps_only_opaque_ids(session, secret_key: str) -> None:  # type: ignore[no-untyped-def]
    tenant = seed(session, secret_key)
    job = session.scalars(select(SyncJob)).one()
    jobs.record_attempt(session, job, jobs.Attempt("upsert_pos_customer", "fatal",
                                                   error="422: email jane@example.com is invalid"))
    session.commit()
    assert set(held_anywhere(session, "jane@example.com")) >= {"inbound_events", "sync_jobs", "sync_attempts"}
    counts = erase_customer(session, tenant.id, "42")
    session.commit()
    assert counts == {"events": 1, "jobs": 1, "index": 1, "links": 1, "shipstation": 0, "crm_links": 0}
    assert held_anywhere(session, "jane@example.com") == [] and held_anywhere(session, "6135551212") == []
    assert session.scalar(select(func.count()).select_from(SyncJob)) == 1  # the audit row stays


def test_rule_27_erasure_reaches_attempt_errors_and_near_matches(session, secret_key: str) -> None:  # type: ignore[no-untyped-def]
    """Read straight from the tables, not through the export: an attempt's error quotes a vendor answer."""
    tenant = seed(session, secret_key)
    job = session.scalars(select(SyncJob)).one()
    jobs.record_attempt(session, job, jobs.Attempt("upsert_pos_customer", "fatal",
                                                   error="422: email jane@example.com is invalid"))
    record_near_match(session, tenant_id=tenant.id, direction="shopify_to_pos", shopify_id="42", pos_id="8",
                      matched_on="phone", differs="email", decision="new", job_id=job.id)
    session.commit()
    assert export_customer(session, tenant.id, "42")["near_matches"][0]["pos_customer_id"] == "8"
    erase_customer(session, tenant.id, "42")
    session.commit()
    errors = list(session.scalars(select(SyncAttempt.error)))
    assert errors and all("jane@example.com" not in (e or "") for e in errors)
    assert session.scalar(select(func.count()).select_from(NearMatch)) == 0


def test_rule_27_a_redact_after_a_merge_keeps_the_moved_link(session, secret_key: str) -> None:  # type: ignore[no-untyped-def]
    tenant = seed(session, secret_key)
    for number, (topic, payload) in enumerate([
        ("customers/merge", merge_payload(kept_id=99, deleted_id=42)),
        ("customers/redact", customer_redact_payload(42)),
    ]):
        event = InboundEvent(tenant_id=tenant.id, webhook_id=f"m{number}", topic=topic,
                             body=json.dumps(payload).encode())
        session.add(event)
        session.flush()
        handle_event(session, event.id)
        session.commit()
    assert links.get_link(session, tenant.id, "99").pos_customer_id == "7"  # rule 13: the link moved
    assert session.scalar(select(func.count()).select_from(PosIndexEntry)) == 1  # not an erasure of the person


def test_rule_29_shop_redact_deletes_the_tenants_data(session, secret_key: str) -> None:  # type: ignore[no-untyped-def]
    tenant = seed(session, secret_key)
    redact_shop(session, tenant.id)
    session.commit()
    for table in (InboundEvent, SyncJob, CustomerLink, PosIndexEntry):
        assert session.scalar(select(func.count()).select_from(table)) == 0


def test_rule_27_erasure_takes_bodies_that_never_parsed_when_they_hold_the_id(session, secret_key: str) -> None:  # type: ignore[no-untyped-def]
    tenant = seed(session, secret_key)
    broken = [b'{"customer": {"id": 42, "email": "jane@example.com"', b'\xff{"customer_id": 42}',
              b'{"customer": {"id": 420, "email": "not-jane@example.com"']
    for index, body in enumerate(broken):
        session.add(InboundEvent(tenant_id=tenant.id, webhook_id=f"bad-{index}", topic="orders/create", body=body,
                                 status=EventStatus.FAILED.value, headers={"X-Shopify-Topic": "orders/create"}))
    session.commit()
    # An export never hands over a body it cannot tell is this customer's.
    assert len(export_customer(session, tenant.id, "42")["events"]) == 1
    counts = erase_customer(session, tenant.id, "42")
    session.commit()
    assert counts["events"] == 3  # the parsed one and the two unreadable ones naming 42
    bodies = {e.webhook_id: e.body for e in session.scalars(select(InboundEvent))}
    assert bodies["bad-0"] is None and bodies["bad-1"] is None
    assert bodies["bad-2"] is not None  # 420 is another customer
