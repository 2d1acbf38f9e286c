"""Finding a customer in any of its forms, and the story of everything possync did about them."""

from __future__ import annotations

from sqlalchemy.orm import Session

from possync.models import links
from possync.models.crm_links import save_crm_link
from possync.models.tables import InboundEvent, NearMatch, PosIndexEntry, ShipStationRecord
from possync.tasks.console import audit
from possync.tasks.console.customers import search, story
from tests.tasks.console.support import add_job


def test_a_phone_typed_in_another_format_finds_the_shopify_customer(db: Session, tenant_id: int) -> None:
    add_job(db, tenant_id, "1001", email="ann@example.com", phone="+16135550101")
    add_job(db, tenant_id, "1002", email="bo@example.com", phone="+16135550102")
    for typed in ("(613) 555-0101", "613.555.0101", "1 613 555 0101", "+1-613-555-0101"):
        assert [(f.shopify_id, f.via) for f in search(db, typed)] == [("1001", "phone")], typed


def test_an_email_in_any_case_finds_the_shopify_customer_and_the_pos_one(db: Session, tenant_id: int) -> None:
    add_job(db, tenant_id, "1001", email="Ann@Example.com", phone=None)
    db.add(PosIndexEntry(tenant_id=tenant_id, pos_customer_id="p-9", age_key="1", email_key="ann@example.com"))
    db.flush()
    found = search(db, "  ANN@example.COM ")
    assert {(f.shopify_id, f.pos_id) for f in found} == {("1001", None), (None, "p-9")}


def test_a_pos_id_finds_the_linked_shopify_customer(db: Session, tenant_id: int) -> None:
    links.save_link(db, tenant_id, "1001", "p-7")
    [found] = search(db, "p-7")
    assert (found.shopify_id, found.pos_id, found.via) == ("1001", "p-7", "POS id")
    assert search(db, "gid://shopify/Customer/1001")[0].shopify_id == "1001"


def test_search_is_per_tenant_and_finds_nothing_for_an_unknown_value(db: Session, tenant_id: int,
                                                                     other_tenant_id: int) -> None:
    add_job(db, tenant_id, "1001", email="ann@example.com")
    add_job(db, other_tenant_id, "1001", email="ann@example.com")
    assert sorted(f.tenant_id for f in search(db, "1001")) == sorted([tenant_id, other_tenant_id])
    assert search(db, "nobody@example.com") == []
    assert search(db, "   ") == []


def test_the_story_holds_delivery_job_attempt_link_echo_consent_near_match_and_operator(
        db: Session, tenant_id: int) -> None:
    event = InboundEvent(tenant_id=tenant_id, webhook_id="w-1", topic="customers/create", status="processed")
    db.add(event)
    db.flush()
    failed = add_job(db, tenant_id, "1001", status="failed", error_class="missing_fields", email="a@example.com",
                     event_id=None)
    failed.event_id = event.id
    add_job(db, tenant_id, "1001", consent_written=["email"], pos_id="p-1")
    add_job(db, tenant_id, "1001", outcome="echo")
    add_job(db, tenant_id, "p-1", direction="pos_to_shopify", outcome="updated")
    add_job(db, tenant_id, "2002", email="other@example.com")
    links.save_link(db, tenant_id, "1001", "p-1")
    db.add(NearMatch(tenant_id=tenant_id, direction="shopify_to_pos", shopify_customer_id="1001",
                     pos_customer_id="p-2", matched_on="phone", differs="email", decision="new"))
    audit.record(db, "ops", "reveal", tenant_id=tenant_id, customer="1001")
    db.flush()
    told = story(db, tenant_id, "1001")
    kinds = [e.kind for e in told.entries]
    for kind in ("delivery", "job", "attempt", "link", "echo", "consent", "near_match", "operator"):
        assert kind in kinds, kind
    assert told.pos_ids == ["p-1"]
    assert told.failed_jobs == [failed.id]
    assert told.customer == {**told.customer, "email": "a@example.com"}
    assert any("HTTP 422" in e.detail and "12.5 ms" in e.detail for e in told.entries if e.kind == "attempt")
    assert any("pos to shopify" in e.title for e in told.entries)  # the POS side's job, through the link
    assert not any("2002" in e.title for e in told.entries)
    assert [e.at for e in told.entries] == sorted(e.at for e in told.entries)


def test_the_story_shows_the_crm_contact_and_the_shipstation_records_of_the_customer(
        db: Session, tenant_id: int) -> None:
    save_crm_link(db, tenant_id, "1001", "c-77", "f")
    db.add(ShipStationRecord(tenant_id=tenant_id, customer_id="s-9", shopify_customer_id="1001", record={}))
    db.add(ShipStationRecord(tenant_id=tenant_id, customer_id="s-10", shopify_customer_id="2002", record={}))
    db.flush()
    titles = [e.title for e in story(db, tenant_id, "1001").entries]
    assert "linked to CRM contact c-77" in titles and "ShipStation customer s-9" in titles
    assert "ShipStation customer s-10" not in titles


def test_search_and_story_work_on_the_embedded_sqlite_database(sqlite_url: str, secret_key: str) -> None:
    from possync.models.db import session_scope
    from possync.models.migrate import upgrade
    from tests.entry.web.conftest import add_tenant

    upgrade(sqlite_url)
    tenant_id = add_tenant(sqlite_url, secret_key)
    with session_scope(sqlite_url) as session:
        add_job(session, tenant_id, "1001", email="Ann@example.com", phone="+16135550101")
        assert [f.shopify_id for f in search(session, "613-555-0101")] == ["1001"]
        assert [f.shopify_id for f in search(session, "ann@EXAMPLE.com")] == ["1001"]
        assert story(session, tenant_id, "1001").customer["email"] == "Ann@example.com"
