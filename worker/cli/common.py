"""What every subcommand shares: settings, sessions, and one-line errors with a non-zero exit."""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Iterator
from typing import Any

import click

from models.crypto import SecretsError
from models.tenant_file import TenantFileError
from worker.settings import Settings, SettingsError, get_settings


class UsageProblem(click.ClickException):
    """A one-line reason for a non-zero exit."""


@contextlib.contextmanager
def fail_cleanly() -> Iterator[None]:
    """Known errors become `possync: <reason>` on stderr and exit status 2, never a traceback."""
    try:
        yield
    except (SettingsError, TenantFileError, SecretsError, LookupError) as exc:
        message = exc.args[0] if isinstance(exc, LookupError) and exc.args else str(exc)
        click.echo(f"possync: {message}", err=True)
        sys.exit(2)


def settings() -> Settings:
    return get_settings()


def echo_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, sort_keys=True, default=str))
