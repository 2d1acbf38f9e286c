"""The console's queries can use the indexes of migration 0011 (PostgreSQL plans with sequential scans off:
a query whose expression differs from the index's by a cast or a form of `IS true` would fall back to a scan)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.orm import Session

from possync.tasks.console import customers, failures, matches, tenants
from tests.tasks.console.support import add_job


@contextmanager
def statements(session: Session) -> Iterator[list[tuple[str, Any]]]:
    seen: list[tuple[str, Any]] = []
    connection = session.connection()

    def record(conn, cursor, statement, parameters, context, executemany) -> None:  # type: ignore[no-untyped-def]
        seen.append((statement, parameters))

    event.listen(connection, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(connection, "before_cursor_execute", record)


def plans(session: Session, run: Callable[[], object]) -> str:
    with statements(session) as seen:
        run()
    session.execute(text("SET LOCAL enable_seqscan = off"))
    cursor = session.connection().connection.cursor()
    out = []
    for statement, parameters in seen:
        cursor.execute("EXPLAIN " + statement, parameters)
        out.extend(row[0] for row in cursor.fetchall())
    return "\n".join(out)


def test_search_by_phone_and_email_use_the_expression_indexes(db: Session, tenant_id: int) -> None:
    add_job(db, tenant_id, "1001", email="Ann@example.com", phone="+16135550101")
    assert "ix_sync_jobs_customer_phone" in plans(db, lambda: customers.search(db, "(613) 555-0101"))
    assert "ix_sync_jobs_customer_email" in plans(db, lambda: customers.search(db, "ann@example.com"))
    assert "ix_sync_jobs_subject_any_tenant" in plans(db, lambda: customers.search(db, "1001"))


def test_status_failed_list_and_matches_use_their_indexes(db: Session, tenant_id: int) -> None:
    add_job(db, tenant_id, "1", status="failed", error_class="missing_fields").ambiguous = True
    db.flush()
    today = plans(db, lambda: tenants.today_by_outcome(db, [tenant_id], tenants.start_of_day()))
    assert "Index Only Scan using ix_sync_jobs_tenant_finished" in today
    assert "sync_jobs" not in plans(db, lambda: tenants.status_rows(db))  # maintained counts, not the jobs
    assert "ix_sync_jobs_failed_newest" in plans(db, lambda: failures.failed_page(db, failures.Filters()))
    assert "ix_sync_jobs_failed" in plans(db, lambda: failures.failed_page(
        db, failures.Filters(tenant_id=tenant_id, error_class="missing_fields")))
    assert "ix_sync_jobs_ambiguous_newest" in plans(db, lambda: matches.ambiguous(db))
