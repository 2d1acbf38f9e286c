"""The tenants page is `possync status`'s rows (its maintained counts) plus today's syncs by outcome."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from possync.models.tables import PosImport
from possync.tasks.console.tenants import overview, start_of_day, today_by_outcome
from tests.tasks.console.support import add_job


def test_counts_todays_syncs_by_outcome_and_the_status_figures(db: Session, tenant_id: int, activate_env,
                                                               redis_server_url: str, redis_prefix: str) -> None:  # type: ignore[no-untyped-def]
    activate_env(POSSYNC_REDIS_URL=redis_server_url, POSSYNC_REDIS_KEY_PREFIX=redis_prefix)
    now = datetime.now(UTC)
    add_job(db, tenant_id, "1", outcome="created", finished_at=now)
    add_job(db, tenant_id, "2", outcome="updated", finished_at=now)
    add_job(db, tenant_id, "3", outcome="created", finished_at=start_of_day(now) - timedelta(seconds=1))
    add_job(db, tenant_id, "4", status="failed", error_class="x")
    add_job(db, tenant_id, "5", status="pending").ambiguous = True
    db.merge(PosImport(tenant_id=tenant_id, status="running", customers_read=1200, vendor_total=5000))
    db.flush()
    [row] = overview(db, now)
    assert row["today"] == {"created": 1, "updated": 1}
    assert row["succeeded"] == {"created": 2, "updated": 1}  # all time, as `possync status` says
    assert (row["failed"], row["ambiguous_matches"], row["backlog"]["jobs"]) == (1, 1, 1)
    assert (row["import"]["status"], row["import"]["read"], row["import"]["total"]) == ("running", 1200, 5000)


def test_start_of_day_is_midnight_utc() -> None:
    assert start_of_day(datetime(2026, 12, 7, 13, 5, tzinfo=UTC)) == datetime(2026, 12, 7, tzinfo=UTC)


def test_todays_syncs_are_each_tenants_own(db: Session, tenant_id: int, other_tenant_id: int) -> None:
    now = datetime.now(UTC)
    add_job(db, tenant_id, "1", outcome="created", finished_at=now)
    add_job(db, other_tenant_id, "2", outcome="updated", finished_at=now)
    add_job(db, other_tenant_id, "3", outcome="updated", finished_at=now)
    add_job(db, other_tenant_id, "4", status="failed", error_class="x", finished_at=now)  # not a sync done
    assert today_by_outcome(db, [tenant_id, other_tenant_id], start_of_day(now)) == {
        tenant_id: {"created": 1}, other_tenant_id: {"updated": 2}}
    assert today_by_outcome(db, [], start_of_day(now)) == {}
