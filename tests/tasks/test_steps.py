"""The sync steps (tasks/steps.py) one by one: real PostgreSQL and Redis, the vendors' fakes over HTTP.

Jobs are made the way the pipeline makes them (a stored webhook through `possync.tasks.intake.handle_event`),
run by the real step runner, and judged by what the database and the fakes hold afterwards.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from possync.adapters.shopify.webhooks import customer_payload, order_payload, refund_payload
from possync.models import links
from possync.models.customer import Consent, ConsentState, Customer
from possync.models.near_matches import near_matches
from possync.models.tables import CustomerLink, InboundEvent, PosIndexEntry, SyncJob, Tenant
from possync.models.tenants import load_context
from possync.tasks import intake, jobs, onboarding, readings, steps
from possync.tasks.clients import shopify_client_for
from possync.tasks.operations import status
from possync.tasks.steps import consent_changes
from tests.tasks.onboarding_support import ADDRESS, Shop, run_job
from tests.tasks.rules.support import R_SERIES

LATER = (datetime.now(UTC) + timedelta(days=1)).isoformat()  # newer than any POS reading in this run


def imported(shops, kind: str = "lightspeed-r", records: list[dict[str, Any]] | None = None,  # type: ignore[no-untyped-def]
             settings: dict[str, Any] | None = None) -> tuple[Shop, list[str]]:
    """A tenant whose POS holds `records` and whose import is complete (the index holds them all)."""
    shop = shops(kind, customers=0, settings=settings)
    ids = [str(i) for i in shop.pos.seed(records or [])]
    onboarding.import_here(shop.name, on_page=lambda _r: None)
    return shop, ids


def job_from_webhook(session: Session, shop: Shop, topic: str, payload: dict[str, Any]) -> int:
    """The job intake makes of this delivery."""
    event = InboundEvent(tenant_id=shop.tenant_id, webhook_id=uuid.uuid4().hex, topic=topic,
                         body=json.dumps(payload).encode())
    session.add(event)
    session.commit()
    [start] = intake.handle_event(session, event.id)
    session.commit()
    return start.job_id


def run(db_url: str, job_id: int, *steps: str) -> None:
    run_job(db_url, job_id, *steps)


def job(session: Session, job_id: int) -> SyncJob:
    session.expire_all()
    return session.get_one(SyncJob, job_id)


def link_of(session: Session, shop: Shop, shopify_id: str) -> CustomerLink | None:
    session.expire_all()
    return links.get_link(session, shop.tenant_id, shopify_id)


def tenant_context(session: Session, shop: Shop):  # type: ignore[no-untyped-def]
    return load_context(session.get_one(Tenant, shop.tenant_id), onboarding.get_settings().require_secret_key())


def writes(shop: Shop) -> int:
    return shop.pos.count_requests("POST") + shop.pos.count_requests("PUT")


# --- fetch_customer ------------------------------------------------------------------------------
def test_fetch_reads_the_orders_customer_fresh_from_shopify(shops, session: Session, db_url: str) -> None:  # type: ignore[no-untyped-def]
    shop, _ = imported(shops)
    customer_id = shop.shopify.add_customer("Ada", "Lind", "ada@example.com", "+1 613-555-0100", address=ADDRESS)
    # The webhook's copy is stale: the step reads Shopify itself.
    job_id = job_from_webhook(session, shop, "orders/create",
                              order_payload(customer=customer_payload(id=customer_id, email="old@example.com")))
    run(db_url, job_id, "fetch_customer")
    fetched = job(session, job_id)
    assert fetched.step == "resolve_match" and fetched.subject == customer_id
    assert fetched.context["shopify_customer"]["customer"]["email"] == "ada@example.com"


def test_fetch_of_a_refund_reads_its_orders_customer(shops, session: Session, db_url: str) -> None:  # type: ignore[no-untyped-def]
    shop, _ = imported(shops)
    customer_id = shop.shopify.add_customer("Ben", "Ota", "ben@example.com", None, address=ADDRESS)
    order_id = shop.shopify.add_order(customer_id)
    job_id = job_from_webhook(session, shop, "refunds/create", refund_payload(order_id))
    run(db_url, job_id, "fetch_customer")
    fetched = job(session, job_id)
    assert fetched.subject == customer_id and fetched.context["order"]["id"] == order_id
    assert fetched.context["shopify_customer"]["id"] == customer_id


def test_fetch_finishes_an_echo_of_possyncs_own_shopify_write(shops, session: Session, db_url: str) -> None:  # type: ignore[no-untyped-def]
    shop, [pos_id] = imported(shops, records=[{"first_name": "Cal", "email": "cal@example.com"}])
    customer_id = shop.shopify.add_customer("Cal", None, "cal@example.com", None)
    written = shopify_client_for(tenant_context(session, shop)).get_customer(customer_id)
    links.save_link(session, shop.tenant_id, customer_id, pos_id, shopify_fingerprint=written.customer.fingerprint())
    session.commit()
    job_id = job_from_webhook(session, shop, "customers/update", customer_payload(id=customer_id))
    run(db_url, job_id)
    echoed = job(session, job_id)
    assert echoed.status == "succeeded" and echoed.outcome == "echo"
    assert writes(shop) == 0


def test_fetch_of_a_customer_gone_from_shopify_fails_the_job_with_the_reason(shops, session: Session,  # type: ignore[no-untyped-def]
                                                                              db_url: str) -> None:
    shop, _ = imported(shops)
    job_id = job_from_webhook(session, shop, "customers/update", customer_payload(id="424242"))
    run(db_url, job_id)
    failed = job(session, job_id)
    assert failed.status == "failed" and "424242 no longer exists" in failed.last_error


def test_an_order_without_a_customer_finishes_as_no_customer(shops, session: Session, db_url: str) -> None:  # type: ignore[no-untyped-def]
    shop, _ = imported(shops)
    job_id = job_from_webhook(session, shop, "orders/create", order_payload(customer=None))
    run(db_url, job_id)
    done = job(session, job_id)
    assert done.status == "succeeded" and done.outcome == "no_customer" and writes(shop) == 0


# --- resolve_match -------------------------------------------------------------------------------
def test_resolve_uses_an_active_link(shops, session: Session, db_url: str) -> None:  # type: ignore[no-untyped-def]
    shop, [linked, _other] = imported(shops, records=[{"first_name": "Dee", "email": "dee.in.store@example.com"},
                                                      {"first_name": "Dee", "email": "dee@example.com"}])
    customer_id = shop.shopify.add_customer("Dee", None, "dee@example.com", None)
    links.save_link(session, shop.tenant_id, customer_id, linked)  # the link wins over the email match
    session.commit()
    job_id = job_from_webhook(session, shop, "customers/update", customer_payload(id=customer_id))
    run(db_url, job_id, "fetch_customer", "resolve_match")
    resolved = job(session, job_id).context
    assert resolved["pos_id"] == linked and resolved["match_via"] == "link"


def test_resolve_matches_by_the_index_when_nothing_is_linked(shops, session: Session, db_url: str) -> None:  # type: ignore[no-untyped-def]
    # As keyed at the till: stray blanks and capitals; only the index's email key matches it.
    shop, [pos_id] = imported(shops, records=[{"first_name": "Eve", "email": "  Eve@Example.com "}])
    customer_id = shop.shopify.add_customer("Eve", None, "eve@example.com", None)
    job_id = job_from_webhook(session, shop, "customers/update", customer_payload(id=customer_id))
    seen = len(shop.pos.vendor_requests())
    run(db_url, job_id, "fetch_customer", "resolve_match")
    resolved = job(session, job_id)
    assert resolved.context["pos_id"] == pos_id and resolved.context["match_via"] == "index"
    assert resolved.ambiguous is False
    [read] = shop.pos.vendor_requests()[seen:]  # one read of the matched record, no vendor search
    assert read.method == "GET" and pos_id in read.path


def test_resolve_finds_nothing_for_a_new_customer(shops, session: Session, db_url: str) -> None:  # type: ignore[no-untyped-def]
    shop, _ = imported(shops, records=[{"first_name": "Fay", "email": "fay@example.com"}])
    customer_id = shop.shopify.add_customer("Gus", None, "gus@example.com", "+1 613-555-0177")
    job_id = job_from_webhook(session, shop, "customers/update", customer_payload(id=customer_id))
    run(db_url, job_id, "fetch_customer", "resolve_match")
    resolved = job(session, job_id).context
    assert resolved["pos_id"] is None and resolved["match_via"] is None


def test_rule_11_an_ambiguous_match_takes_the_oldest_and_is_recorded_and_counted(shops, session: Session,  # type: ignore[no-untyped-def]
                                                                                 db_url: str) -> None:
    shop, [oldest, newer] = imported(shops, records=[{"first_name": "Hal", "email": "hal@example.com"},
                                                     {"first_name": "Hal", "email": "HAL@example.com"}])
    customer_id = shop.shopify.add_customer("Hal", None, "hal@example.com", None)
    job_id = job_from_webhook(session, shop, "customers/update", customer_payload(id=customer_id))
    run(db_url, job_id, "fetch_customer", "resolve_match")
    resolved = job(session, job_id)
    assert resolved.ambiguous is True
    assert resolved.context["pos_id"] == oldest and sorted(resolved.context["candidates"]) == sorted([oldest, newer])
    [row] = [r for r in status() if r["tenant"] == shop.name]
    assert row["ambiguous_matches"] == 1


@pytest.mark.parametrize("decision", ["new", "update"])
def test_rule_10_a_phone_match_with_another_email_is_recorded_and_shown_on_the_job(  # type: ignore[no-untyped-def]
        shops, session: Session, db_url: str, decision: str) -> None:
    shop, [victim] = imported(shops, records=[{"first_name": "Vic", "last_name": "Tim", "email": "victim@example.com",
                                               "phone": "(613) 555-1212"}], settings={"conflicting_match": decision})
    customer_id = shop.shopify.add_customer("Mal", "Lory", "attacker@evil.test", "+16135551212")
    job_id = job_from_webhook(session, shop, "customers/update", customer_payload(id=customer_id))
    run(db_url, job_id, "fetch_customer", "resolve_match")
    shown = {"pos_id": victim, "matched_on": "phone", "differs": "email", "decision": decision}
    assert job(session, job_id).context["near_match"] == shown
    [near] = near_matches(session, shop.tenant_id)
    assert (near.direction, near.shopify_customer_id, near.pos_customer_id, near.matched_on, near.differs,
            near.decision, near.job_id) == ("shopify_to_pos", customer_id, victim, "phone", "email", decision, job_id)


# --- default_customer_fallback -------------------------------------------------------------------
def test_rule_23_a_heartland_order_without_a_customer_goes_to_the_default_customer(shops, session: Session,  # type: ignore[no-untyped-def]
                                                                                  db_url: str) -> None:
    shop = shops("heartland", customers=0)
    default_id = shop.shopify.add_customer("Walk", "In", "walkin@example.com", "+1 613-555-0199", address=ADDRESS)
    session.get_one(Tenant, shop.tenant_id).settings = {"default_customer_id": default_id}
    session.commit()
    onboarding.import_here(shop.name, on_page=lambda _r: None)
    job_id = job_from_webhook(session, shop, "orders/create", order_payload(customer=None))
    run(db_url, job_id, "fetch_customer", "resolve_match", "default_customer_fallback")
    fell_back = job(session, job_id).context
    assert fell_back["default_customer"] is True and fell_back["shopify_customer"]["id"] == default_id

    run(db_url, job_id)  # the default customer is created once and linked ...
    assert job(session, job_id).outcome == "created"
    seen = len(shop.pos.vendor_requests())
    second = job_from_webhook(session, shop, "orders/create", order_payload(id=2, customer=None))
    run(db_url, second)  # ... and the next such order uses the link, with no POS request of its own
    done = job(session, second)
    assert done.outcome == "default_customer"
    assert done.context["pos_id"] == link_of(session, shop, default_id).pos_customer_id
    assert len(shop.pos.vendor_requests()) == seen


def test_rule_23_without_a_default_customer_the_job_fails_naming_the_setting(shops, session: Session,  # type: ignore[no-untyped-def]
                                                                            db_url: str) -> None:
    shop, _ = imported(shops, "heartland")
    job_id = job_from_webhook(session, shop, "orders/create", order_payload(customer=None))
    run(db_url, job_id)
    failed = job(session, job_id)
    assert failed.status == "failed" and "settings.default_customer_id is not set" in failed.last_error


# --- upsert_pos_customer and sync_marketing_consent ----------------------------------------------
def test_upsert_creates_then_updates_then_leaves_unchanged(shops, session: Session, db_url: str) -> None:  # type: ignore[no-untyped-def]
    shop, _ = imported(shops)
    customer_id = shop.shopify.add_customer("Ivy", "Moss", "ivy@example.com", "+1 613-555-0111", address=ADDRESS)
    payload = customer_payload(id=customer_id)

    created = job_from_webhook(session, shop, "customers/create", payload)
    run(db_url, created)
    assert job(session, created).outcome == "created"
    link = link_of(session, shop, customer_id)
    assert link is not None and link.synced_fingerprint is not None
    assert "ivy@example.com" in json.dumps(shop.pos.record(link.pos_customer_id))
    assert session.scalar(select(func.count()).select_from(PosIndexEntry).where(
        PosIndexEntry.tenant_id == shop.tenant_id, PosIndexEntry.email_key == "ivy@example.com")) == 1

    with shop.shopify.lock:  # the merchant edits her in Shopify
        shop.shopify._customers[customer_id]["last_name"] = "Mossman"
    updated = job_from_webhook(session, shop, "customers/update", payload)
    run(db_url, updated)
    assert job(session, updated).outcome == "updated"
    assert job(session, updated).context["pos_id"] == link.pos_customer_id
    assert "Mossman" in json.dumps(shop.pos.record(link.pos_customer_id))

    before = writes(shop)
    unchanged = job_from_webhook(session, shop, "customers/update", payload)
    run(db_url, unchanged)
    assert job(session, unchanged).outcome == "unchanged" and writes(shop) == before


def test_a_matched_r_series_update_reuses_the_resolves_reading(shops, session: Session, db_url: str) -> None:  # type: ignore[no-untyped-def]
    """The PUT replacing the phones is built from the resolve's reading (rule 37 vouched for by the
    catch-up): one GET of the record, one PUT, and the Work phone possync does not own is kept."""
    shop, [pos_id] = imported(shops, records=[{"first_name": "Max", "last_name": "Ray", "email": "max@example.com",
                                               "phones": [{"number": "(613) 555-0100", "useType": "Home"},
                                                          {"number": "(613) 555-0199", "useType": "Work"}]}])
    customer_id = shop.shopify.add_customer("Max", "Ray", "max@example.com", "+1 613-555-0122", address=ADDRESS)
    shop.pos.reset()
    job_id = job_from_webhook(session, shop, "customers/update", customer_payload(id=customer_id))
    run(db_url, job_id)
    assert job(session, job_id).outcome == "updated"
    assert shop.pos.count_requests("GET", f"/Customer/{pos_id}.json") == 1
    assert shop.pos.count_requests("PUT") == 1
    phones = {p["useType"]: p["number"] for p in shop.pos.record(pos_id)["Contact"]["Phones"]["ContactPhone"]}
    assert phones["Work"] == "(613) 555-0199" and "0122" in phones["Home"]


def test_a_matched_update_reads_again_when_the_reading_is_not_vouched_for(shops, session: Session,  # type: ignore[no-untyped-def]
                                                                          db_url: str) -> None:
    """Rule 37: once the catch-up shows the record archived since the resolve read it, the upsert
    writes nothing to it on that reading."""
    shop, [pos_id] = imported(shops, records=[{"first_name": "Nia", "email": "nia@example.com",
                                               "phone": "(613) 555-0101"}])
    customer_id = shop.shopify.add_customer("Nia", "Ray", "nia@example.com", "+1 613-555-0123", address=ADDRESS)
    job_id = job_from_webhook(session, shop, "customers/update", customer_payload(id=customer_id))
    run(db_url, job_id, "fetch_customer", "resolve_match", "default_customer_fallback")
    assert job(session, job_id).context["pos_id"] == pos_id
    shop.pos.archive(pos_id)
    shop.pos.advance_clock(2)
    run(db_url, job_id)
    assert job(session, job_id).context["pos_id"] != pos_id
    assert shop.pos.writes_to_archived == []


def test_a_second_job_whose_customer_another_job_just_synced_writes_nothing(shops, session: Session,  # type: ignore[no-untyped-def]
                                                                              db_url: str, monkeypatch) -> None:
    """Two orders of one matched customer, both read before either wrote: the second finds the link the
    first saved with this very content and writes nothing (its own reading predates that write). The
    tenant's import row is read once per run, however many steps ask whether it is complete."""
    shop, [pos_id] = imported(shops, records=[{"first_name": "Lou", "email": "lou@example.com"}])
    customer_id = shop.shopify.add_customer("Lou", "Reed", "lou@example.com", None, address=ADDRESS)
    payload = customer_payload(id=customer_id)
    first = job_from_webhook(session, shop, "customers/update", payload)
    second = job_from_webhook(session, shop, "customers/update", payload)
    for job_id in (first, second):
        run(db_url, job_id, "fetch_customer", "resolve_match", "default_customer_fallback")
    reads: list[int] = []
    real_read = steps.read_import
    monkeypatch.setattr(steps, "read_import",
                        lambda s, tenant_id: (reads.append(tenant_id), real_read(s, tenant_id))[1])
    before = writes(shop)
    run(db_url, first)
    assert job(session, first).outcome == "updated" and writes(shop) == before + 1
    assert len(reads) == 1  # the upsert and the consent step of this run share one reading
    change_reads = len([r for r in shop.pos.vendor_requests() if r.method == "GET" and "/Customer.json" in r.path])
    run(db_url, second)
    assert job(session, second).outcome == "unchanged" and writes(shop) == before + 1
    assert job(session, second).context["pos_id"] == str(pos_id)
    # The consent step had nothing to write: it asked for no catch-up of its own (at most the upsert's).
    assert len([r for r in shop.pos.vendor_requests() if r.method == "GET" and "/Customer.json" in r.path]) \
        <= change_reads + 1


def test_rules_25_26_consent_rides_in_the_upserts_write(shops, session: Session, db_url: str) -> None:  # type: ignore[no-untyped-def]
    shop, [pos_id] = imported(shops, records=[{"first_name": "Jo", "last_name": "Pike", "email": "jo@example.com"}])
    customer_id = shop.shopify.add_customer("Jo", "Pike", "jo@example.com", None, email_consent="UNSUBSCRIBED",
                                            consent_updated_at=LATER)
    job_id = job_from_webhook(session, shop, "customers/update", customer_payload(id=customer_id))
    before = writes(shop)
    run(db_url, job_id)
    done = job(session, job_id)
    assert done.outcome == "updated" and done.context["consent_written"] == ["email_consent"]
    assert '"noEmail": "true"' in json.dumps(shop.pos.record(pos_id)) and writes(shop) == before + 1


def test_the_consent_step_reads_again_after_a_wait_and_writes_the_newer_unsubscribe(shops, session: Session,  # type: ignore[no-untyped-def]
                                                                                   db_url: str) -> None:
    shop, [pos_id] = imported(shops, records=[{"first_name": "Kai", "email": "kai@example.com"}])
    customer_id = shop.shopify.add_customer("Kai", None, "kai@example.com", None, email_consent="UNSUBSCRIBED",
                                            consent_updated_at=LATER)
    job_id = job_from_webhook(session, shop, "customers/update", customer_payload(id=customer_id))
    run(db_url, job_id, "fetch_customer", "resolve_match", "default_customer_fallback")
    # The upsert's reading is older than a write may rely on (a wait came between): the step reads again.
    waiting = job(session, job_id)
    waiting.step, waiting.context = "sync_marketing_consent", {**waiting.context, "pos_read_at": 0.0}
    session.commit()
    run(db_url, job_id)
    done = job(session, job_id)
    assert done.status == "succeeded" and done.context["consent_written"] == ["email_consent"]
    assert '"noEmail": "true"' in json.dumps(shop.pos.record(pos_id))
    assert link_of(session, shop, customer_id).pos_customer_id == pos_id


def test_consent_changes_send_shopifys_newer_consent_not_the_pos_reading() -> None:
    """Rules 25-26: Shopify's consent is the incoming side, the POS's reading the current one."""
    earlier, later = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 2, 1, tzinfo=UTC)
    shopify = Customer(email_consent=Consent(ConsentState.UNSUBSCRIBED, later))
    pos = Customer(email_consent=Consent.from_flag(True, earlier))
    assert consent_changes(shopify, pos, R_SERIES) == {"email_consent": Consent(ConsentState.UNSUBSCRIBED, later)}
    assert consent_changes(Customer(email_consent=Consent(ConsentState.SUBSCRIBED, later)),
                           Customer(email_consent=Consent.from_flag(False, earlier)), R_SERIES) == {
        "email_consent": Consent(ConsentState.SUBSCRIBED, later)}


# --- push_to_shopify ----------------------------------------------------------------------------
def push_job(session: Session, shop: Shop, pos_id: str) -> int:
    """A POS -> Shopify job for this POS customer, as an X-Series webhook or the poll makes it (id only)."""
    made = jobs.new_job(session, tenant_id=shop.tenant_id, direction="pos_to_shopify", subject=pos_id,
                        context={"pos_customer_id": pos_id})
    session.commit()
    return made.id


def test_push_creates_a_shopify_customer_and_links_it_then_its_echo_is_finished(shops, session: Session,  # type: ignore[no-untyped-def]
                                                                                 db_url: str) -> None:
    shop, [pos_id] = imported(shops, records=[{"first_name": "Lea", "last_name": "Roy", "email": "lea@example.com"}])
    job_id = push_job(session, shop, pos_id)
    run(db_url, job_id)
    pushed = job(session, job_id)
    assert pushed.outcome == "created", pushed.last_error
    [created] = [c for c in shop.shopify.customers.values() if c["email"] == "lea@example.com"]
    assert created["last_name"] == "Roy"
    assert session.scalar(select(CustomerLink.pos_customer_id).where(
        CustomerLink.tenant_id == shop.tenant_id, CustomerLink.shopify_customer_id == created["id"])) == pos_id

    again = push_job(session, shop, pos_id)  # the same reading again: possync's own write coming back
    run(db_url, again)
    assert job(session, again).outcome == "echo" and len(shop.shopify.customers) == 1


@pytest.mark.parametrize("shared", ["email", "phone"])
def test_rule_2_reverse_matching_links_the_oldest_of_several_shopify_accounts(shops, session: Session,  # type: ignore[no-untyped-def]
                                                                             db_url: str, shared: str) -> None:
    record = {"first_name": "Max", "email": "max@example.com"} if shared == "email" else \
        {"first_name": "Max", "phone": "613-555-0142"}
    shop, [pos_id] = imported(shops, records=[record])
    # Shopify ids grow with age; the newest account is added first so "first found" is not "oldest".
    newest = shop.shopify.add_customer("Max", None, "max@example.com" if shared == "email" else None,
                                       "+1 613-555-0142" if shared == "phone" else None, id=9_000_000_000_003)
    oldest = shop.shopify.add_customer("Max", None, "max@example.com" if shared == "email" else None,
                                       "+1 613-555-0142" if shared == "phone" else None, id=9_000_000_000_001)
    job_id = push_job(session, shop, pos_id)
    run(db_url, job_id)
    pushed = job(session, job_id)
    assert pushed.status == "succeeded" and pushed.context["shopify_customer_id"] == oldest, pushed.last_error
    assert link_of(session, shop, oldest).pos_customer_id == pos_id and link_of(session, shop, newest) is None
    assert len(shop.shopify.customers) == 2  # nobody created


@pytest.mark.parametrize("kind", ["lightspeed-r", "lightspeed-x", "heartland"])
def test_rule_37_archived_right_after_the_match_read_is_seen_by_the_shared_catch_up(  # type: ignore[no-untyped-def]
        shops, session: Session, db_url: str, kind: str) -> None:
    """The record is archived the instant after resolve read it (no wait between): on an imported tenant the
    upsert's catch-up poll, begun after that reading, sees the archive, so nothing is written to it and the
    customer is matched again (here: created) in the same job."""
    shop, [pos_id] = imported(shops, kind, records=[{"first_name": "Lea", "last_name": "Moe",
                                                     "email": "lea@example.com"}])
    customer_id = shop.shopify.add_customer("Lea", "Moe-Dahl", "lea@example.com", None, address=ADDRESS)
    job_id = job_from_webhook(session, shop, "customers/update", customer_payload(id=customer_id))
    run(db_url, job_id, "fetch_customer", "resolve_match", "default_customer_fallback")
    assert job(session, job_id).context["pos_id"] == str(pos_id)
    pos: Any = shop.pos
    pos.delete(str(pos_id)) if kind == "lightspeed-x" else pos.archive(str(pos_id))  # X-Series: its soft delete
    seen = len(shop.pos.vendor_requests())
    run(db_url, job_id)
    done = job(session, job_id)
    assert done.status == "succeeded" and done.outcome == "created", done.last_error
    assert done.context["pos_id"] != str(pos_id) and done.context["rematched_from"] == str(pos_id)
    written = {r.path.rstrip("/").split("/")[-1].split(".")[0]
               for r in shop.pos.vendor_requests()[seen:] if r.method in ("PUT", "POST", "PATCH")}
    assert str(pos_id) not in written


# --- readings shared between the jobs of one customer (issue #14) ---------------------------------------
def gets_of(shop: Shop, pos_id: str) -> int:
    return shop.pos.count_requests("GET", f"/Customer/{pos_id}.json")


def test_orders_arriving_together_read_their_customer_once(shops, session: Session, db_url: str) -> None:  # type: ignore[no-untyped-def]
    """Two orders of one matched customer, both resolved before either upsert: the second uses the reading
    the first took moments ago instead of reading the record again, and then writes nothing."""
    shop, [pos_id] = imported(shops, records=[{"first_name": "Ada", "email": "ada@example.com"}])
    customer_id = shop.shopify.add_customer("Ada", "Byron", "ada@example.com", None, address=ADDRESS)
    first, second = (job_from_webhook(session, shop, "orders/create", order_payload(900 + n, customer_payload(
        id=customer_id))) for n in range(2))
    for job_id in (first, second):
        run(db_url, job_id, "fetch_customer", "resolve_match", "default_customer_fallback")
    assert gets_of(shop, pos_id) == 1
    assert job(session, second).context["pos_current"] == job(session, first).context["pos_current"]
    run(db_url, first)
    run(db_url, second)
    assert (job(session, first).outcome, job(session, second).outcome) == ("updated", "unchanged")
    assert gets_of(shop, pos_id) == 1 and writes(shop) == 1


def test_a_job_whose_customer_another_job_is_reading_leaves_the_reading_to_its_upsert(  # type: ignore[no-untyped-def]
        shops, session: Session, db_url: str) -> None:
    """While another job of the customer holds the claim to read it, resolve reads nothing; with nothing
    synced meanwhile, the upsert reads the record under the customer lock and writes on that reading."""
    shop, [pos_id] = imported(shops, records=[{"first_name": "Bo", "email": "bo@example.com"}])
    customer_id = shop.shopify.add_customer("Bo", "Diddley", "bo@example.com", None, address=ADDRESS)
    job_id = job_from_webhook(session, shop, "customers/update", customer_payload(id=customer_id))
    assert readings.claim(shop.tenant_id, customer_id, job_id + 1000)  # another job got there first
    run(db_url, job_id, "fetch_customer", "resolve_match", "default_customer_fallback")
    context = job(session, job_id).context
    assert gets_of(shop, pos_id) == 0 and context["pos_id"] == pos_id and context["pos_current"] is None
    run(db_url, job_id)
    assert job(session, job_id).outcome == "updated" and gets_of(shop, pos_id) == 1 and writes(shop) == 1
    assert "Diddley" in json.dumps(shop.pos.record(pos_id))


def test_a_reading_older_than_possyncs_own_write_is_replaced_by_that_write(  # type: ignore[no-untyped-def]
        shops, session: Session, db_url: str) -> None:
    """Two Shopify accounts matched to one POS record, both read before either wrote: the second starts
    from what the first wrote, finds nothing left to change, and sends nothing (it used to write the same
    phone again on its stale reading)."""
    shop, [pos_id] = imported(shops, records=[{"first_name": "Cy", "last_name": "Young", "email": "cy@example.com"}])
    ids = [shop.shopify.add_customer("Cy", "Young", email, "+1 613-555-0177", address=ADDRESS)
           for email in ("cy@example.com", "CY@example.com")]
    first, second = (job_from_webhook(session, shop, "customers/update", customer_payload(id=i)) for i in ids)
    for job_id in (first, second):
        run(db_url, job_id, "fetch_customer", "resolve_match", "default_customer_fallback")
    run(db_url, first)
    assert job(session, first).outcome == "updated" and writes(shop) == 1
    run(db_url, second)
    done = job(session, second)
    assert done.outcome == "unchanged" and done.context["pos_id"] == pos_id and writes(shop) == 1
    assert link_of(session, shop, ids[1]) is not None
    # Nothing written: its reading is the first job's answer and keeps that answer's time, so a later step
    # relying on it waits for a catch-up that began after that write (rule 37), not after this job.
    assert done.context[steps.POS_READ_AT] == job(session, first).context[steps.POS_READ_AT]


def test_a_merchants_edit_seen_by_the_change_poll_drops_the_kept_reading(  # type: ignore[no-untyped-def]
        shops, session: Session, db_url: str) -> None:
    """A kept reading the POS has since contradicted is not reused: the next job reads the record again
    (while a poll that only sees possync's own write keeps it)."""
    from possync.tasks.clients import pos_adapter_for
    from possync.tasks.poll import poll_tenant

    shop, [pos_id] = imported(shops, records=[{"first_name": "Di", "email": "di@example.com"}])
    customer_id = shop.shopify.add_customer("Di", "Fox", "di@example.com", None, address=ADDRESS)
    run(db_url, job_from_webhook(session, shop, "customers/update", customer_payload(id=customer_id)))
    tenant = tenant_context(session, shop)
    shop.pos.advance_clock(2)
    poll_tenant(session, tenant, pos_adapter_for(tenant))  # sees possync's own write: the reading stays
    assert readings.recall(shop.tenant_id, pos_id) is not None
    shop.pos.edit(pos_id, {"lastName": "Fox-Till"})  # the merchant, at the till
    shop.pos.advance_clock(2)
    poll_tenant(session, tenant, pos_adapter_for(tenant))
    assert readings.recall(shop.tenant_id, pos_id) is None
    before = gets_of(shop, pos_id)
    with shop.shopify.lock:  # and she changes her name online: the next job has something to write
        shop.shopify._customers[customer_id]["last_name"] = "Fox-Hill"
    run(db_url, job_from_webhook(session, shop, "customers/update", customer_payload(id=customer_id)))
    assert gets_of(shop, pos_id) == before + 1


# --- Heartland: the record the change poll keeps in the index is the reading (issue #14) -------------
IDA = {"first_name": "Ida", "last_name": "Wells", "email": "ida@example.com", "custom": {"tier": "gold"},
       "address": {"line_1": "150 Elgin St", "city": "Ottawa", "state": "ON", "postal_code": "K2P 1L4",
                   "country": "CA", "phone": "6135550100"}}
TAGS_IN_CUSTOM = {"heartland_custom_fields": {"tags": "shopify_tags"}}


def heartland_update(session: Session, shops, left_out: tuple[str, ...] = ()) -> tuple[Shop, str, int]:  # type: ignore[no-untyped-def]
    """An imported Heartland record the merchant edits (`custom`) after the import, then a Shopify
    update of the same customer (a new phone, and possync's tags, which this tenant keeps in `custom`)."""
    shop = shops("heartland", customers=0, settings=TAGS_IN_CUSTOM)
    shop.pos.list_leaves_out = left_out
    [pos_id] = [str(i) for i in shop.pos.seed([IDA])]
    onboarding.import_here(shop.name, on_page=lambda _r: None)
    customer_id = shop.shopify.add_customer("Ida", "Wells", "ida@example.com", "+1 613-555-0199", address=ADDRESS)
    shop.pos.edit(pos_id, custom={"tier": "platinum"})  # the merchant, at the till, before the event
    shop.pos.reset()
    return shop, pos_id, job_from_webhook(session, shop, "customers/update", customer_payload(id=customer_id))


def test_a_heartland_update_starts_from_the_record_the_catch_up_indexed(shops, session: Session,  # type: ignore[no-untyped-def]
                                                                         db_url: str) -> None:
    """No read by id: a catch-up begun after the event puts the merchant's edit in the index, and the
    update resends that record's `custom` (the merchant's tier stays platinum, not the import's gold)."""
    shop, pos_id, job_id = heartland_update(session, shops)
    run(db_url, job_id)
    assert job(session, job_id).outcome == "updated", job(session, job_id).last_error
    assert shop.pos.count_requests("GET", f"/customers/{pos_id}") == 0
    record = shop.pos.record(pos_id)
    assert record["custom"]["tier"] == "platinum" and "Shopify" in record["custom"]["shopify_tags"]
    assert "0199" in shop.pos.address(pos_id, record["address_id"])["phone"]


def test_a_heartland_list_row_without_custom_leaves_the_read_by_id(shops, session: Session,  # type: ignore[no-untyped-def]
                                                                   db_url: str) -> None:
    """Whether Heartland's list rows embed `custom` is unverified: a row without it is no reading an update
    may start from, so the job reads the record by id as before."""
    shop, pos_id, job_id = heartland_update(session, shops, left_out=("custom",))
    run(db_url, job_id)
    assert job(session, job_id).outcome == "updated", job(session, job_id).last_error
    assert shop.pos.count_requests("GET", f"/customers/{pos_id}") == 1
    assert shop.pos.record(pos_id)["custom"]["tier"] == "platinum"
