"""`possync poll` when the poll fails: one line on stderr naming why, exit status 1, no traceback, and the
reason kept as the tenant's last poll error (`possync status` shows it)."""

from __future__ import annotations

import json
import sqlite3

from tests.entry.cli.test_commands import possync
from tests.entry.cli.test_operations import stack  # noqa: F401  (the fixture: SQLite, Shopify and Heartland fakes)


def failure_line(result) -> str:  # type: ignore[no-untyped-def]
    assert result.returncode == 1 and "Traceback" not in result.stderr
    [line] = result.stderr.strip().splitlines()
    prefix = "possync: the poll of tenant 'cli' failed: "
    assert line.startswith(prefix)
    return line.removeprefix(prefix)


def test_a_failed_poll_is_one_line_and_the_tenants_last_poll_error(stack) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    env, _, pos = stack
    database = sqlite3.connect(env["POSSYNC_DATABASE_URL"].removeprefix("sqlite:///"), isolation_level=None)

    def last_error() -> str | None:
        return database.execute("SELECT last_error FROM poll_cursors").fetchone()[0]

    pos.inject(500, count=1)  # the vendor fails
    reason = failure_line(possync("poll", "--tenant", "cli", env=env))
    assert "(500" in reason and last_error() == reason

    # The merchant's case: the database refuses the new cursor (there: too long for varchar(255)).
    pos.seed([{"email": f"c{i}@example.com"} for i in range(3)])
    # A new cursor only: the row already holds the import's (SPEC rule 34), which recording the failure keeps.
    for event, new in (("INSERT", "1"), ("UPDATE", "NEW.cursor IS NOT OLD.cursor")):
        database.execute(f"CREATE TRIGGER refuse_{event.lower()} BEFORE {event} ON poll_cursors WHEN "
                         f"length(NEW.cursor) > 8 AND {new} BEGIN SELECT RAISE(ABORT, 'cursor too long for the "
                         "column'); END")
    reason = failure_line(possync("poll", "--tenant", "cli", env=env))
    assert reason == "database error: cursor too long for the column" == last_error()
    database.close()


def test_prune_deletes_past_the_given_age_and_status_keeps_the_totals(session, db_url: str,  # type: ignore[no-untyped-def]
                                                                      secret_key: str) -> None:
    from datetime import timedelta

    from sqlalchemy import func, select

    from possync.models.tables import JobStatus, SyncJob
    from possync.tasks import jobs
    from tests.models.test_counts import make_tenant
    from tests.tasks.test_retention import add_job

    tenant = make_tenant(session, "cli")
    now = jobs.now()
    for days in (3, 10, 40):
        add_job(session, tenant, f"done-{days}", JobStatus.SUCCEEDED.value, now - timedelta(days=days),
                now - timedelta(days=days))
    session.commit()
    env = {"POSSYNC_DATABASE_URL": db_url, "POSSYNC_SECRET_KEY": secret_key}
    by_default = possync("prune", env=env)  # POSSYNC_RETENTION_DAYS: 30
    assert by_default.returncode == 0, by_default.stderr
    assert by_default.stdout.strip() == "pruned 1 succeeded jobs and 0 events in 1 batches"
    assert possync("prune", env={**env, "POSSYNC_RETENTION_DAYS": "7"}).stdout.startswith("pruned 1 ")
    assert possync("prune", "--older-than", "1", env=env).stdout.startswith("pruned 1 ")
    assert session.scalar(select(func.count()).select_from(SyncJob)) == 0
    zero = possync("prune", "--older-than", "0", env=env)
    assert zero.returncode == 2 and "Traceback" not in zero.stderr
    status = json.loads(possync("status", "--json", env=env).stdout)
    assert status["tenants"][0]["succeeded"] == {"None": 3}  # the pruned jobs still counted
