"""The POS import (SPEC rule 34) against each POS fake over HTTP, on real PostgreSQL and Redis.

A few hundred customers (archived and deleted ones among them, emails with stray blanks, phones as
typed at a till) go into the index; a crash mid-page loses that page only and the resume reads no
committed page again; the change poll starts where the import ended; creates wait until it is complete.
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from possync.adapters.change_cursor import FRESH_MAX
from possync.models import pos_index
from possync.models.db import get_sessionmaker
from possync.models.tables import ImportStatus, PollCursor, PosImport, PosIndexEntry, SyncAttempt, SyncJob, Tenant
from possync.models.tenants import load_context
from possync.tasks import jobs, onboarding, waiting
from possync.tasks.clients import pos_adapter_for
from possync.tasks.poll import poll_tenant
from possync.tasks.runner import run_steps
from possync.tasks.steps import STEP_FUNCTIONS
from tests.tasks.onboarding_support import ADDRESS, CUSTOMERS, KINDS, REMOVED, Shop, pos_record, run_job


@pytest.fixture(params=KINDS)
def shop(request, shops) -> Shop:  # type: ignore[no-untyped-def]
    return shops(request.param)


def index_rows(session: Session, tenant_id: int) -> dict[str, PosIndexEntry]:
    session.expire_all()
    return {row.pos_customer_id: row for row in
            session.scalars(select(PosIndexEntry).where(PosIndexEntry.tenant_id == tenant_id))}


def state(session: Session, tenant_id: int) -> PosImport:
    session.expire_all()
    return session.get_one(PosImport, tenant_id)


def test_import_reads_every_customer_into_the_index(shop: Shop, session: Session) -> None:
    pages: list[int] = []
    row = onboarding.import_here(shop.name, on_page=lambda r: pages.append(r.customers_read))
    assert row.status == ImportStatus.COMPLETE.value

    rows = index_rows(session, shop.tenant_id)
    assert set(rows) == set(shop.pos_ids)  # archived and deleted ones included
    removed = {shop.pos_ids[i] for i in REMOVED}
    assert {pid for pid, r in rows.items() if r.status != "active"} == removed
    # Stray blanks and capitals, and till formats, are stored under the keys matching uses.
    assert rows[shop.pos_ids[3]].email_key == "customer3@example.com"
    assert rows[shop.pos_ids[7]].phone_key == "6132300007"
    assert rows[shop.pos_ids[8]].phone_key == "6132300008"

    done = state(session, shop.tenant_id)
    assert done.customers_read == CUSTOMERS and pages[-1] == CUSTOMERS and done.finished_at is not None
    assert done.vendor_total == (None if shop.kind == "lightspeed-x" else CUSTOMERS)  # X-Series has no count
    # Read only: no vendor write, no sync job of either direction.
    assert {r.method for r in shop.pos.vendor_requests()} == {"GET"}
    assert session.scalar(select(func.count()).select_from(SyncJob)) == 0
    # The change poll starts where the import ended: nothing is read or pushed again.
    cursor = session.get_one(PollCursor, shop.tenant_id)
    assert cursor.cursor == done.cursor
    tenant = load_context(session.get_one(Tenant, shop.tenant_id), onboarding.get_settings().require_secret_key())
    polled = poll_tenant(session, tenant, pos_adapter_for(tenant))
    assert polled.seen == 0 and polled.starts == []


def test_a_new_customer_after_the_import_is_found_by_the_first_poll(shop: Shop, session: Session) -> None:
    onboarding.import_here(shop.name, on_page=lambda _r: None)
    [new_id] = shop.pos.seed([pos_record(9999)])  # now: after every seeded change
    tenant = load_context(session.get_one(Tenant, shop.tenant_id), onboarding.get_settings().require_secret_key())
    polled = poll_tenant(session, tenant, pos_adapter_for(tenant))
    assert polled.seen == 1 and str(new_id) in index_rows(session, shop.tenant_id)


class SimulatedCrashError(Exception):
    """The process dies here."""


def test_resume_after_a_crash_reads_no_committed_page_again(shop: Shop, session: Session, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    asked: list[str | None] = []
    real_changes = type(pos_adapter_for_shop(session, shop)).changes_since

    def recording(self, cursor):  # type: ignore[no-untyped-def]
        asked.append(cursor)
        return real_changes(self, cursor)

    monkeypatch.setattr(type(pos_adapter_for_shop(session, shop)), "changes_since", recording)
    real_index = pos_index.index_customers
    calls = {"n": 0}

    def dies_on_second_page(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 2:
            real_index(*args, **kwargs)  # the page's rows are written, then the process dies before the commit
            raise SimulatedCrashError
        return real_index(*args, **kwargs)

    monkeypatch.setattr(pos_index, "index_customers", dies_on_second_page)
    with pytest.raises(SimulatedCrashError):
        onboarding.import_here(shop.name, on_page=lambda _r: None)
    crashed = state(session, shop.tenant_id)
    first_page, cursor_at_crash = len(index_rows(session, shop.tenant_id)), crashed.cursor
    assert crashed.status == ImportStatus.RUNNING.value and crashed.pages_read == 1
    assert crashed.customers_read == first_page > 0  # the second page's rows went with the transaction

    onboarding.import_here(shop.name, on_page=lambda _r: None)
    done = state(session, shop.tenant_id)
    assert done.status == ImportStatus.COMPLETE.value
    assert set(index_rows(session, shop.tenant_id)) == set(shop.pos_ids)  # none missed
    assert done.customers_read == CUSTOMERS  # none counted twice
    # Each page asked once, except the one in flight at the crash, asked again on resume.
    assert asked[0] is None and asked[1] == asked[2] == cursor_at_crash
    assert len(asked) == len(set(map(str, asked))) + 1


def pos_adapter_for_shop(session: Session, shop: Shop):  # type: ignore[no-untyped-def]
    tenant = load_context(session.get_one(Tenant, shop.tenant_id), onboarding.get_settings().require_secret_key())
    return pos_adapter_for(tenant)


def test_applying_the_same_pos_account_again_keeps_the_import(shops, session: Session) -> None:
    shop = shops("heartland", customers=3)
    onboarding.import_here(shop.name, on_page=lambda _r: None)
    tenant = session.get_one(Tenant, shop.tenant_id)
    assert onboarding.mark_for_import(session, tenant, changed=True) is False  # e.g. new settings only
    tenant.pos_config = {**tenant.pos_config, "subdomain": "another-store"}
    assert onboarding.mark_for_import(session, tenant, changed=True) is True
    session.commit()
    again = state(session, shop.tenant_id)
    assert again.status == ImportStatus.PENDING.value and again.customers_read == 0
    assert index_rows(session, shop.tenant_id) == {}  # the old account's customers are not this one's
    assert session.get(PollCursor, shop.tenant_id) is None


def test_a_failed_import_names_its_reason_and_waits_for_the_operator(shops, session: Session) -> None:
    shop = shops("lightspeed-x", customers=3)
    shop.pos.inject(401, count=5)  # a revoked token: permanent after one refresh
    with pytest.raises(Exception, match="401"):
        onboarding.import_here(shop.name, on_page=lambda _r: None)
    failed = state(session, shop.tenant_id)
    assert failed.status == ImportStatus.FAILED.value and "401" in (failed.last_error or "")
    assert onboarding.resume_imports({shop.tenant_id: failed.status}) == {shop.tenant_id}  # not polled, not resent
    tenant = session.get_one(Tenant, shop.tenant_id)
    assert onboarding.mark_for_import(session, tenant, changed=True)  # a fixed file re-arms it
    session.commit()
    assert state(session, shop.tenant_id).status == ImportStatus.PENDING.value


def test_a_create_waits_for_the_import_and_an_update_does_not(shops, session: Session, db_url: str) -> None:  # type: ignore[no-untyped-def]
    shop = shops("lightspeed-r", customers=5)
    factory = get_sessionmaker(db_url)
    new = shop.shopify.add_customer("New", "Person", "new.person@example.com", "+1 613-555-7777", address=ADDRESS)
    # Customer 3 is in the POS as "  Customer3@Example.com ": only the index can match it.
    known = shop.shopify.add_customer("First3", "Last3", "customer3@example.com", None, address=ADDRESS)
    waiting = jobs.new_job(session, tenant_id=shop.tenant_id, subject=new,
                           context={"topic": "customers/update", "customer_id": new})
    session.commit()
    outcome = run_steps(waiting.id, STEP_FUNCTIONS, factory)
    assert outcome.action == "retry" and outcome.step == "upsert_pos_customer"
    assert onboarding.CREATE_WAIT_MIN_SECONDS <= outcome.countdown <= onboarding.CREATE_WAIT_MAX_SECONDS + 1
    session.expire_all()
    job = session.get_one(SyncJob, waiting.id)
    assert job.status == "pending" and job.attempts == 0 and "POS import" in outcome.reason
    assert session.scalar(select(func.count()).select_from(SyncAttempt).where(
        SyncAttempt.job_id == job.id, SyncAttempt.outcome != "ok")) == 0  # waiting is not an attempt
    assert shop.pos.count_requests("POST") == 0

    onboarding.import_here(shop.name, on_page=lambda _r: None)
    linked = jobs.new_job(session, tenant_id=shop.tenant_id, subject=known,
                          context={"topic": "customers/update", "customer_id": known})
    session.commit()
    assert run_job(db_url, waiting.id).action in ("continue", "stop")
    assert run_job(db_url, linked.id).action in ("continue", "stop")  # after the next catch-up
    session.expire_all()
    assert session.get_one(SyncJob, waiting.id).outcome == "created"
    assert session.get_one(SyncJob, linked.id).outcome in ("updated", "unchanged")  # linked, not a duplicate
    assert shop.pos.count_requests("POST") == 1


def test_an_existing_customer_is_updated_while_the_import_is_pending(shops, session: Session, db_url: str) -> None:  # type: ignore[no-untyped-def]
    shop = shops("lightspeed-x", customers=2)
    # The vendor's email search finds this one (stored exactly): a link, which never waits.
    known = shop.shopify.add_customer("First1", "Last1", "customer1@example.com", None, address=ADDRESS)
    job = jobs.new_job(session, tenant_id=shop.tenant_id, subject=known,
                       context={"topic": "customers/update", "customer_id": known})
    session.commit()
    outcome = run_steps(job.id, STEP_FUNCTIONS, get_sessionmaker(db_url))
    session.expire_all()
    done = session.get_one(SyncJob, job.id)
    assert outcome.action in ("continue", "stop")
    assert done.status == "succeeded" and done.outcome in ("updated", "unchanged"), done.last_error
    assert state(session, shop.tenant_id).status == ImportStatus.PENDING.value


def test_beat_resumes_imports_and_polls_only_imported_tenants(shops, session: Session, redis_client,  # type: ignore[no-untyped-def]
                                                              redis_prefix: str) -> None:
    from possync.tasks.poll import schedule_polls

    tenants = {status: shops("lightspeed-x", customers=0)
               for status in ("complete", "pending", "interrupted", "running", "failed")}
    for status, shop in tenants.items():
        session.get_one(PosImport, shop.tenant_id).status = {"interrupted": "running"}.get(status, status)
    session.commit()

    def queued(kind: str, shop: Shop) -> bool:
        return bool(redis_client.exists(f"{redis_prefix}{kind}:{shop.tenant_id}"))

    with onboarding.import_lock(tenants["running"].tenant_id):  # alive: its worker renews the lock
        schedule_polls()
        assert {s for s, shop in tenants.items() if queued("import-queued", shop)} == {"pending", "interrupted"}
        assert {s for s, shop in tenants.items() if queued("poll-queued", shop)} == {"complete"}
        schedule_polls()  # a message is on its way: not a second one
        assert redis_client.llen(f"{redis_prefix}poll") == 3  # two imports and one poll on the poll queue
    schedule_polls()  # its importer died (the lock lapsed): resumed
    assert queued("import-queued", tenants["running"]) and redis_client.llen(f"{redis_prefix}poll") == 4


def test_a_rate_limit_wait_waits_and_never_fails(shops, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from possync.worker.limiter import DEFAULT_BUCKETS
    from possync.worker.runtime import limiter

    shop = shops("heartland", customers=CUSTOMERS)
    # Other work of this tenant spent its budget: the shared limiter makes the import wait its turns.
    limiter().acquire(f"pos:{shop.name}", DEFAULT_BUCKETS["heartland"], cost=12, on_credit=True)
    waits: list[float] = []
    real_sleep = waiting.sleep_holding
    monkeypatch.setattr(waiting, "sleep_holding", lambda s, renew, **kw: (waits.append(s), real_sleep(s, renew, **kw)))
    row = onboarding.import_here(shop.name, on_page=lambda _r: None)
    assert row.status == ImportStatus.COMPLETE.value and row.customers_read == CUSTOMERS
    assert waits and all(0 < w < 2 for w in waits)  # Heartland's bucket (5/s): short turns, slept
    assert shop.pos.count_requests() == 4 and 429 not in {r.status for r in shop.pos.vendor_requests()}


def test_customers_added_a_moment_ago_are_read_once_settled_without_asking_in_a_loop(shops, session: Session,  # type: ignore[no-untyped-def]
                                                                                       monkeypatch) -> None:
    shop = shops("lightspeed-r", customers=0)
    count = FRESH_MAX + 25  # more than the cursor holds fresh: all just now
    ids = shop.pos.seed({"first_name": f"N{i}", "email": f"n{i}@example.com"} for i in range(count))
    waits: list[float] = []
    real_sleep = waiting.sleep_holding
    monkeypatch.setattr(waiting, "sleep_holding", lambda s, renew, **kw: (waits.append(s), real_sleep(s, renew, **kw)))
    row = onboarding.import_here(shop.name, on_page=lambda _r: None)
    assert row.status == ImportStatus.COMPLETE.value and row.customers_read == count
    assert set(index_rows(session, shop.tenant_id)) == {str(i) for i in ids}
    # Fresh records wait to settle (R-Series: 2 s); the import waits with them instead of asking again and again.
    assert shop.pos.count_requests() <= 6 and waits
    assert all(onboarding.SETTLE_WAIT_SECONDS <= w <= onboarding.SETTLE_WAIT_SECONDS + 0.1 for w in waits)
