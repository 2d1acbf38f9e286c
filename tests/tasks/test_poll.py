"""The change poll against the R-Series fake and the run's PostgreSQL: thousands of customers sharing one
second fill the index (the merchant's failure: a cursor too long for its column), and a failed poll is
one line, stored on the tenant's cursor row."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from adapters.change_cursor import FRESH_MAX
from adapters.lightspeed_r import LightspeedRAdapter, make_adapter
from adapters.lightspeed_r.fake import FakeServer
from models.tables import PollCursor, PosIndexEntry, SyncJob
from models.tenant_file import validate_tenant_data
from models.tenants import TenantContext, apply_tenant, load_context
from tasks.poll import PollError, index_current_since, poll_tenant
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
