"""Every failing command is one line on stderr and a non-zero exit; the traceback only with POSSYNC_DEBUG=1.

And without Redis, the commands that would work inline refuse a shared database (their limiter and
locks would be private to the process), while SQLite keeps working inline (tests/entry/cli/test_operations.py).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import sqlalchemy.exc

from possync.entry.cli.common import describe_failure
from tests.entry.cli.test_commands import TENANT, possync

CLOSED_PG = "postgresql://postgres@127.0.0.1:1/possync"


def one_line(result: subprocess.CompletedProcess[str], *expected: str) -> str:
    assert result.returncode != 0, result.stdout
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    for text in expected:
        assert text in lines[0]
    return lines[0]


@pytest.fixture
def sqlite_env(tmp_path: Path, secret_key: str) -> dict[str, str]:
    """A migrated SQLite database with the tenant `acme`."""
    env = {"POSSYNC_DATABASE_URL": f"sqlite:///{tmp_path / 'p.db'}", "POSSYNC_SECRET_KEY": secret_key}
    assert possync("db", "upgrade", env=env).returncode == 0
    (tmp_path / "acme.json").write_text(json.dumps(TENANT))
    assert possync("tenant", "apply", str(tmp_path / "acme.json"), env=env).returncode == 0
    return env


@pytest.mark.parametrize("args", [("status",), ("failed", "list"), ("tenant", "show", "acme"), ("db", "upgrade")],
                         ids=" ".join)
def test_an_unreachable_database_is_one_line(args: tuple[str, ...], secret_key: str) -> None:
    result = possync(*args, env={"POSSYNC_DATABASE_URL": CLOSED_PG, "POSSYNC_SECRET_KEY": secret_key})
    line = one_line(result, "possync: error: database: ", '"127.0.0.1", port 1', "POSSYNC_DEBUG=1")
    assert result.returncode == 1, line


@pytest.mark.parametrize("args", [("status",), ("failed", "list"), ("tenant", "show", "acme"),
                                  ("sync", "--tenant", "acme", "--shopify-customer", "1")], ids=" ".join)
def test_a_database_never_upgraded_says_to_run_db_upgrade(args: tuple[str, ...], tmp_path: Path,
                                                          secret_key: str) -> None:
    env = {"POSSYNC_DATABASE_URL": f"sqlite:///{tmp_path / 'new.db'}", "POSSYNC_SECRET_KEY": secret_key}
    one_line(possync(*args, env=env), "no such table", "run `possync db upgrade`")


@pytest.mark.parametrize("url", ["mongodb://h/db", "postgresql+psycopg2://u@h/db", "postgresql//u:pw@h/db"])
def test_db_upgrade_with_a_database_url_it_cannot_use_names_the_variable(url: str) -> None:
    result = possync("db", "upgrade", env={"POSSYNC_DATABASE_URL": url})
    assert one_line(result).startswith("possync: POSSYNC_DATABASE_URL ") and result.returncode == 2


def test_sync_with_an_unknown_tenant(sqlite_env: dict[str, str]) -> None:
    result = possync("sync", "--tenant", "nobody", "--shopify-customer", "1", env=sqlite_env)
    assert one_line(result) == "possync: no tenant named 'nobody'"


def test_a_malformed_redis_url_names_the_variable(sqlite_env: dict[str, str]) -> None:
    result = possync("status", env=sqlite_env | {"POSSYNC_REDIS_URL": "redis://:pw@127.0.0.1:port/0"})
    one_line(result, "possync: POSSYNC_REDIS_URL is malformed")


def test_an_unreachable_redis_is_one_line(sqlite_env: dict[str, str]) -> None:
    result = possync("sync", "--tenant", "acme", "--shopify-customer", "1",
                     env=sqlite_env | {"POSSYNC_REDIS_URL": "redis://127.0.0.1:1/0"})
    one_line(result, "possync: error: redis: ", "127.0.0.1:1")  # the job goes to its fair line in Redis first


def test_possync_debug_shows_the_traceback() -> None:
    result = possync("status", env={"POSSYNC_DATABASE_URL": CLOSED_PG, "POSSYNC_DEBUG": "1"})
    assert result.returncode != 0 and "Traceback" in result.stderr and "OperationalError" in result.stderr


def test_a_failure_line_is_masked_and_never_shows_sql_parameters() -> None:
    vendor = RuntimeError("vendor refused jane@example.com, phone 613-555-1212\n<html>second line</html>")
    assert describe_failure(vendor) == "RuntimeError: vendor refused j***@e***.com, phone ***1212"
    database = sqlalchemy.exc.IntegrityError("INSERT INTO customers (email) VALUES (%(email)s)",
                                             {"email": "jane@example.com"}, Exception("duplicate key value"))
    assert describe_failure(database) == "database: duplicate key value"


@pytest.mark.parametrize("args", [("poll", "--tenant", "acme"), ("sync", "--tenant", "acme", "--shopify-customer", "1"),
                                  ("replay", "--all")], ids=lambda args: args[0])
def test_inline_work_on_a_shared_database_without_redis_is_refused(args: tuple[str, ...], pg_url: str,
                                                                   secret_key: str) -> None:
    result = possync(*args, env={"POSSYNC_DATABASE_URL": pg_url, "POSSYNC_SECRET_KEY": secret_key})
    one_line(result, "possync: POSSYNC_REDIS_URL is not set: ", f"`possync {args[0]}`", "rate limiter", "locks")


def test_with_redis_the_same_command_goes_on_to_the_work(pg_url: str, secret_key: str, redis_server_url: str) -> None:
    env = {"POSSYNC_DATABASE_URL": pg_url, "POSSYNC_SECRET_KEY": secret_key, "POSSYNC_REDIS_URL": redis_server_url}
    result = possync("sync", "--tenant", "nobody", "--shopify-customer", "1", env=env)
    assert one_line(result) == "possync: no tenant named 'nobody'"  # past the guard, to the tenant lookup
