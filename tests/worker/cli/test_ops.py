"""`possync poll` when the poll fails: one line on stderr naming why, exit status 1, no traceback, and the
reason kept as the tenant's last poll error (`possync status` shows it)."""

from __future__ import annotations

import sqlite3

from tests.worker.cli.test_commands import possync
from tests.worker.cli.test_operations import stack  # noqa: F401  (the fixture: SQLite, Shopify and Heartland fakes)


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
