"""The change poll against the R-Series fake and the run's PostgreSQL: thousands of customers sharing one
second fill the index (the merchant's failure: a cursor too long for its column), and a failed poll is
one line, stored on the tenant's cursor row."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from possync.adapters.change_cursor import FRESH_MAX
from possync.adapters.lightspeed_r import LightspeedRAdapter, make_adapter
from possync.adapters.lightspeed_r.fake import FakeServer
from possync.models.tables import PollCursor, PosIndexEntry, SyncJob
from possync.models.tenant_file import validate_tenant_data
from possync.models.tenants import TenantContext, apply_tenant, load_context
from possync.tasks.poll import (
    CATCH_UP_WINDOW_SECONDS,
    WAIT_JITTER_SECONDS,
    CatchUpWaitError,
    PollError,
    _note_round,
    catch_up,
    index_current_since,
    poll_lock,
    poll_tenant,
)
from tests.adapters.lightspeed_r.helpers import OAUTH_SECRETS, running

T0 = "2024-05-01T10:00:00+00:00"


@pytest.fixture
def fake() -> Iterator[FakeServer]:
    with running(FakeServer(account_id="12345", bucket_size=None)) as server:
        yield server


@pytest.fixture
def tenant(session: Session, fake: FakeServer, secret_key: str) -> TenantContext:
    data = {"name": "bulk", "account_name": "bulkstore",
            "shopify": {"shop_domain": "bulk.myshopify.com", "access_token": "shpat_x", "client_secret": "x"},
            "pos": {"kind": "lightspeed-r", "account_id": "12345", "base_url": fake.url, **OAUTH_SECRETS}}
    row, _ = apply_tenant(session, validate_tenant_data(data), secret_key)
    session.commit()
    return load_context(row, secret_key)


@pytest.fixture
def adapter(tenant: TenantContext, fake: FakeServer) -> LightspeedRAdapter:
    return make_adapter(tenant.pos_config, tenant.pos_secrets, tenant.settings)


@pytest.fixture
def narrow_cursor_column(session: Session) -> Iterator[None]:
    """The column as a database not yet upgraded past 0001 has it, only narrower: 64 characters."""
    session.execute(sa.text("ALTER TABLE poll_cursors ALTER COLUMN cursor TYPE varchar(64)"))
    session.commit()
    # Pooled connections hold statements psycopg prepared against the old column type: drop them.
    session.get_bind().dispose()
    yield
    session.rollback()
    session.execute(sa.text("ALTER TABLE poll_cursors ALTER COLUMN cursor TYPE text"))
    session.commit()
    session.get_bind().dispose()


def test_a_bulk_import_in_one_second_fills_the_index(
    session: Session, tenant: TenantContext, adapter: LightspeedRAdapter, fake: FakeServer
) -> None:
    ids = fake.seed([{"first_name": f"N{i}", "email": f"n{i}@example.com", "time_stamp": T0} for i in range(1350)])
    result = poll_tenant(session, tenant, adapter)
    assert result.pages == 14 and result.seen == 1350
    row = session.get(PollCursor, tenant.id)
    assert row is not None and row.last_error is None and len(row.cursor or "") < 1024
    indexed = session.scalars(sa.select(PosIndexEntry.pos_customer_id)
                              .where(PosIndexEntry.tenant_id == tenant.id)).all()
    assert sorted(indexed, key=int) == ids
    assert session.scalar(sa.select(sa.func.count()).select_from(SyncJob)) == 1350
    again = poll_tenant(session, tenant, adapter)
    assert again.seen == 0 and again.pages == 1


def test_the_index_keeps_no_record_of_a_pos_whose_change_rows_are_not_readings(
    session: Session, tenant: TenantContext, adapter: LightspeedRAdapter, fake: FakeServer
) -> None:
    """Issue #14: only an adapter that vouches for its list rows (Heartland) has the poll keep the whole
    record; R-Series rows carry their contact collections too, but its jobs still read by id."""
    fake.seed([{"first_name": "Ann", "email": "ann@example.com", "time_stamp": T0}])
    assert adapter.changes_since(None).customers[0].vendor_state is not None
    poll_tenant(session, tenant, adapter)
    [entry] = session.scalars(sa.select(PosIndexEntry).where(PosIndexEntry.tenant_id == tenant.id)).all()
    assert entry.email_key == "ann@example.com" and entry.reading is None


def test_a_database_error_on_the_cursor_is_one_line_and_stored(
    session: Session, tenant: TenantContext, adapter: LightspeedRAdapter, fake: FakeServer,
    narrow_cursor_column: None
) -> None:
    fake.seed([{"first_name": f"N{i}", "email": f"n{i}@example.com", "time_stamp": T0} for i in range(150)])
    with pytest.raises(PollError) as info:
        poll_tenant(session, tenant, adapter)
    reason = info.value.reason
    assert reason == "database error: value too long for type character varying(64)"
    row = session.get(PollCursor, tenant.id)
    assert row is not None and row.last_error == reason and row.cursor is None  # nothing half-written
    assert session.scalar(sa.select(sa.func.count()).select_from(PosIndexEntry)) == 0


def test_an_adapter_error_is_one_line_stored_and_cleared_by_the_next_good_poll(
    session: Session, tenant: TenantContext, adapter: LightspeedRAdapter, fake: FakeServer
) -> None:
    fake.seed([{"first_name": "A", "email": "a@example.com", "time_stamp": T0}])
    fake.inject(503, count=1)
    with pytest.raises(PollError) as info:
        poll_tenant(session, tenant, adapter)
    assert "\n" not in info.value.reason and "503" in info.value.reason
    row = session.get(PollCursor, tenant.id)
    assert row is not None and row.last_error == info.value.reason and row.cursor is None
    assert poll_tenant(session, tenant, adapter).seen == 1
    session.refresh(row)
    assert row.last_error is None and row.cursor is not None


def test_a_poll_waits_for_fresh_changes_past_the_cursors_bound_without_calling_the_index_current(
    session: Session, tenant: TenantContext, fake: FakeServer
) -> None:
    """An import running in the POS right now: a poll reads what the cursor can hold and stops; it does
    not claim the index current (rule 36) while changes it has not handed out are waiting."""
    clock = {"now": 1_780_000_000.0}
    with running(FakeServer(account_id="12345", bucket_size=None, clock=lambda: clock["now"])) as live:
        adapter = make_adapter({**tenant.pos_config, "base_url": live.url}, tenant.pos_secrets, tenant.settings)
        ids = live.seed([{"first_name": f"N{i}", "email": f"n{i}@example.com"} for i in range(FRESH_MAX + 5)])
        before = index_current_since(tenant.id)
        first = poll_tenant(session, tenant, adapter)
        assert first.seen == FRESH_MAX and first.pages == 2 and index_current_since(tenant.id) == before
        clock["now"] += 5
        second = poll_tenant(session, tenant, adapter)
        assert second.seen == 5 and index_current_since(tenant.id) > before
    indexed = session.scalars(sa.select(PosIndexEntry.pos_customer_id)
                              .where(PosIndexEntry.tenant_id == tenant.id)).all()
    assert sorted(indexed, key=int) == ids


# --- the catch-up before a create (rule 36), coalesced -------------------------------------------------------
@pytest.fixture
def own_redis(db_url: str, redis_server_url: str, redis_prefix: str, activate_env) -> None:  # type: ignore[no-untyped-def]
    """The catch-up's shared state (its lock, when the last one began) in real Redis, under this test's prefix."""
    activate_env(POSSYNC_DATABASE_URL=db_url, POSSYNC_REDIS_URL=redis_server_url, POSSYNC_REDIS_KEY_PREFIX=redis_prefix)


def change_reads(fake: FakeServer) -> int:
    return fake.count_requests("GET", "/Customer.json")


def test_one_catch_up_serves_every_reading_made_before_it_began(
    session: Session, tenant: TenantContext, adapter: LightspeedRAdapter, fake: FakeServer, own_redis: None
) -> None:
    first_reading = time.time()
    second_reading = time.time()
    catch_up(session, tenant, adapter, since=second_reading)
    catch_up(session, tenant, adapter, since=first_reading)  # a job that read earlier: served already
    catch_up(session, tenant, adapter, since=second_reading)
    assert change_reads(fake) == 1
    assert index_current_since(tenant.id) >= second_reading


def test_a_reading_after_the_last_catch_up_began_waits_for_the_next_within_the_window(
    session: Session, tenant: TenantContext, adapter: LightspeedRAdapter, fake: FakeServer, own_redis: None
) -> None:
    catch_up(session, tenant, adapter, since=time.time())
    with pytest.raises(CatchUpWaitError) as waited:
        catch_up(session, tenant, adapter, since=time.time())
    assert 0 < waited.value.countdown <= CATCH_UP_WINDOW_SECONDS + WAIT_JITTER_SECONDS
    assert change_reads(fake) == 1  # nothing sent: it waits for the next catch-up, which others share too
    time.sleep(waited.value.countdown)
    reading = time.time()
    catch_up(session, tenant, adapter, since=reading)
    assert change_reads(fake) == 2 and index_current_since(tenant.id) >= reading


def test_while_a_catch_up_runs_a_job_waits_once_for_its_end_instead_of_retrying_at_random(
    session: Session, tenant: TenantContext, adapter: LightspeedRAdapter, fake: FakeServer, own_redis: None
) -> None:
    """The countdown comes from how long the running catch-up should take (here a slow POS: 3 s)."""
    lock = poll_lock(tenant.id)
    assert lock.acquire(blocking=False)
    try:
        began = time.time()
        _note_round(tenant.id, started=repr(began), took="3.0")
        with pytest.raises(CatchUpWaitError) as waited:
            catch_up(session, tenant, adapter, since=time.time())
    finally:
        lock.release()
    assert 3.0 - (time.time() - began) <= waited.value.countdown <= 3.0 + WAIT_JITTER_SECONDS
    assert change_reads(fake) == 0
def _tenants_with_cursors(session: Session, count: int, interval: int, last: datetime | None) -> list[int]:
    from possync.models.tables import PollCursor, Tenant

    ids = []
    for n in range(count):
        tenant = Tenant(name=f"t{n}", account_name="a", shop_domain=f"t{n}.myshopify.com", pos_kind="heartland",
                        shopify_config={}, pos_config={}, settings={"poll_interval_seconds": interval},
                        shopify_secrets="x", pos_secrets="x")
        session.add(tenant)
        session.flush()
        if last is not None:
            session.add(PollCursor(tenant_id=tenant.id, last_polled_at=last))
        ids.append(tenant.id)
    session.commit()
    return ids


def test_due_tenants_is_one_query_whatever_the_number_of_tenants(session: Session) -> None:
    from sqlalchemy import event

    from possync.tasks.poll import due_tenants

    _tenants_with_cursors(session, 30, 60, None)
    statements: list[str] = []
    engine = session.get_bind()
    listener = lambda *args: statements.append(args[2])  # noqa: E731
    event.listen(engine, "before_cursor_execute", listener)
    try:
        assert len(due_tenants(session)) == 30  # never polled: due at once
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    assert len(statements) == 1


def test_polls_of_many_tenants_spread_over_the_interval(session: Session) -> None:
    from possync.tasks.poll import due_tenants

    start = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
    ids = _tenants_with_cursors(session, 200, 60, start)  # all polled at the same moment (a restart)
    first_due: dict[int, int] = {}
    for second in range(1, 121):
        for tenant_id in due_tenants(session, start + timedelta(seconds=second)):
            first_due.setdefault(tenant_id, second)
    assert set(first_due) == set(ids)  # every tenant polled within one interval and a bit
    per_tenth = Counter((s - 1) // 6 for s in first_due.values())
    # Spread: no tenth of the interval holds more than twice its share (20 of 200).
    assert max(per_tenth.values()) <= 40 and len(per_tenth) == 10


@pytest.mark.parametrize("database", ["postgresql", "sqlite"])
def test_a_tenant_is_due_once_per_interval_at_its_own_phase(database: str, db_url: str, sqlite_url: str) -> None:
    """The due rule runs in the database (milliseconds since the epoch): the same answers on both."""
    from possync.models.db import get_sessionmaker
    from possync.tasks.poll import due_tenants, phase_of

    interval = 60
    session = get_sessionmaker(db_url if database == "postgresql" else sqlite_url)()
    try:
        [tenant_id] = _tenants_with_cursors(session, 1, interval, None)
        phase = phase_of(tenant_id, interval)
        assert 0 <= phase < interval
        slot = datetime(2026, 12, 7, 12, 0, tzinfo=UTC).timestamp() // interval * interval + phase
        at = datetime.fromtimestamp(slot, UTC)
        assert due_tenants(session, at) == [tenant_id]  # never polled: due at once

        def due_after(last: datetime, now: datetime) -> bool:
            session.merge(PollCursor(tenant_id=tenant_id, last_polled_at=last))
            session.commit()
            return due_tenants(session, now) == [tenant_id]

        assert due_after(at - timedelta(milliseconds=1), at)  # polled just before this slot
        assert not due_after(at, at + timedelta(seconds=interval - 0.001))  # polled at it: not before the next
        assert due_after(at, at + timedelta(seconds=interval))
        assert not due_after(at - timedelta(seconds=1), at - timedelta(milliseconds=1))  # the slot not yet come
    finally:
        session.rollback()
        session.close()


def test_beat_sends_one_message_per_tick_and_a_worker_one_poll_per_due_tenant(  # type: ignore[no-untyped-def]
        session: Session, db_url: str, redis_server_url: str, redis_prefix: str, redis_client, activate_env) -> None:
    import base64
    import json as jsonlib

    from possync.tasks.poll import schedule_polls, start_polls

    activate_env(POSSYNC_DATABASE_URL=db_url, POSSYNC_REDIS_URL=redis_server_url,
                 POSSYNC_REDIS_KEY_PREFIX=redis_prefix)
    ids = _tenants_with_cursors(session, 40, 60, None)  # never polled, no import: all due
    queue = f"{redis_prefix}poll"
    schedule_polls()
    [message] = [jsonlib.loads(m) for m in redis_client.lrange(queue, 0, -1)]
    assert message["headers"]["task"] == "possync.poll.start_polls"
    [tenant_ids] = jsonlib.loads(base64.b64decode(message["body"]))[0]
    assert sorted(tenant_ids) == sorted(ids)
    schedule_polls()  # every one already on its way: nothing more
    assert redis_client.llen(queue) == 1
    redis_client.delete(queue)
    start_polls(tenant_ids)  # what the worker runs
    sent = [jsonlib.loads(m)["headers"] for m in redis_client.lrange(queue, 0, -1)]
    assert {h["task"] for h in sent} == {"possync.poll.poll_pos_changes"}
    assert sorted(int(h["argsrepr"].strip("[]")) for h in sent) == sorted(ids)
