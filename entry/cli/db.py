"""`possync db upgrade`."""

from __future__ import annotations

import click

from possync.entry.cli.common import settings
from possync.models.migrate import upgrade


@click.group()
def db() -> None:
    """Database schema management."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True, help="Alembic revision to upgrade to.")
def db_upgrade(revision: str) -> None:
    """Apply migrations (Alembic) to POSSYNC_DATABASE_URL."""
    url = settings().database_url
    upgrade(url, revision)
    click.echo(f"database at {url.split('@')[-1]} is at revision {revision}")
