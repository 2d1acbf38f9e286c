"""`possync tenant apply|list|show`."""

from __future__ import annotations

import click
from sqlalchemy import select

from models.db import session_scope
from models.tables import Tenant
from models.tenant_file import load_tenant_file
from models.tenants import apply_tenant, describe, get_tenant
from worker.cli.common import echo_json, settings


@click.group()
def tenant() -> None:
    """Tenants: one Shopify shop linked to one POS account."""


@tenant.command("apply")
@click.argument("file", type=click.Path(dir_okay=False))
def tenant_apply(file: str) -> None:
    """Create or update a tenant from a JSON or YAML file; the whole file is rejected on any bad key."""
    data = load_tenant_file(file)
    conf = settings()
    key = conf.require_secret_key()
    with session_scope(conf.database_url) as session:
        record, changed = apply_tenant(session, data, key)
        name = record.name
    click.echo(f"tenant {name}: {'applied' if changed else 'unchanged'}")


@tenant.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def tenant_list(as_json: bool) -> None:
    """List tenants."""
    conf = settings()
    with session_scope(conf.database_url) as session:
        rows = [
            {"name": t.name, "shop_domain": t.shop_domain, "pos_kind": t.pos_kind, "account_name": t.account_name}
            for t in session.scalars(select(Tenant).order_by(Tenant.name))
        ]
    if as_json:
        echo_json(rows)
        return
    for row in rows:
        click.echo(f"{row['name']}\t{row['shop_domain']}\t{row['pos_kind']}")


@tenant.command("show")
@click.argument("name")
def tenant_show(name: str) -> None:
    """One tenant as JSON, secrets masked."""
    conf = settings()
    key = conf.require_secret_key()
    with session_scope(conf.database_url) as session:
        record = get_tenant(session, name)
        if record is None:
            raise LookupError(f"no tenant named {name!r}")
        echo_json(describe(record, key))
