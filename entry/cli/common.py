"""What every subcommand shares: settings, sessions, and one-line errors with a non-zero exit."""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Iterator
from typing import IO, Any

import click
import kombu.exceptions
import redis
import sqlalchemy.exc

from possync.models.crypto import SecretsError
from possync.models.tenant_file import TenantFileError
from possync.worker.logging import mask_text
from possync.worker.settings import Settings, SettingsError, debug_requested, get_settings


class UsageProblem(click.ClickException):
    """A one-line reason for a non-zero exit, printed as every other one is: `possync: <reason>`."""

    def show(self, file: IO[Any] | None = None) -> None:
        click.echo(f"possync: {self.format_message()}", err=True)


@contextlib.contextmanager
def fail_cleanly() -> Iterator[None]:
    """Every failure is one line on stderr and a non-zero exit, never a traceback unless POSSYNC_DEBUG asks.

    Bad input (settings, tenant file, key, unknown name) is `possync: <reason>`, exit 2; anything else
    (database, Redis, a vendor) is `possync: error: <what failed>`, exit 1.
    """
    try:
        yield
    except (SettingsError, TenantFileError, SecretsError, LookupError) as exc:
        message = exc.args[0] if isinstance(exc, LookupError) and exc.args else str(exc)
        click.echo(f"possync: {message}", err=True)
        sys.exit(2)
    except Exception as exc:
        if debug_requested():
            raise
        click.echo(f"possync: error: {describe_failure(exc)} (POSSYNC_DEBUG=1 shows the traceback)", err=True)
        sys.exit(1)


def describe_failure(exc: Exception) -> str:
    """One masked line: what failed and the first line of why; never SQL or its parameters."""
    if isinstance(exc, sqlalchemy.exc.DBAPIError):
        what, why = "database", str(exc.orig)
    elif isinstance(exc, sqlalchemy.exc.SQLAlchemyError):
        what, why = "database", str(exc)
    elif isinstance(exc, redis.RedisError):
        what, why = "redis", str(exc)
    elif isinstance(exc, kombu.exceptions.OperationalError):
        what, why = "broker", str(exc)
    else:
        what, why = type(exc).__name__, str(exc)
    first = next((line.strip() for line in why.splitlines() if line.strip()), "no message")
    if "no such table" in first or ("relation" in first and "does not exist" in first):
        first += "; run `possync db upgrade`"
    return mask_text(f"{what}: {first}")


def settings() -> Settings:
    return get_settings()


def require_shared_limits(command: str) -> None:
    """Without Redis, `command` works inline with a limiter and locks private to this process.

    That is right for the embedded SQLite database; on a shared one it would bypass the rate limits and
    customer locks every worker honours, so it is refused.
    """
    conf = get_settings()
    if conf.redis_url is None and not conf.database_url.startswith("sqlite"):
        raise SettingsError(
            f"POSSYNC_REDIS_URL is not set: `possync {command}` would run here with its own rate limiter and "
            "customer locks, bypassing the workers' on this shared database; set it to the workers' Redis"
        )


def echo_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, sort_keys=True, default=str))
