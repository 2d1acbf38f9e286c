"""`possync tenant apply|list|show|import|preview`."""

from __future__ import annotations

import contextlib
import csv
import itertools
import json
import sys
import textwrap
from collections.abc import Iterator
from typing import TextIO

import click
from redis.exceptions import LockError
from sqlalchemy import select
from sqlalchemy.orm import Session
from tqdm import tqdm

from possync.adapters.errors import AdapterError
from possync.entry.cli.common import UsageProblem, echo_json, require_shared_limits, settings
from possync.models import webhook_tokens
from possync.models.db import session_scope
from possync.models.tables import PosImport, Tenant
from possync.models.tenant_file import load_tenant_file
from possync.models.tenants import apply_tenant, context_by_name, describe, get_tenant
from possync.tasks.clients import shopify_client_for
from possync.tasks.onboarding import ImportBusyError, describe_progress, enqueue_import, import_here, mark_for_import
from possync.tasks.preview import ImportNotCompleteError, PreviewRow, preview, summarise
from possync.worker.runtime import db_session

NO_POS = "-"  # `tenant list`'s POS column for a tenant without one (a CRM-only tenant)


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
        session.flush()
        name, tenant_id = record.name, record.id
        webhook_kind = record.webhook_token is not None
        to_import = mark_for_import(session, record, changed)
    click.echo(f"tenant {name}: {'applied' if changed else 'unchanged'}")
    if changed and webhook_kind:
        click.echo(f"tenant {name}: register the X-Series customer.update webhook at the URL "
                   f"`possync tenant webhook-url {name} --base-url https://YOUR-RECEIVER` prints")
    if not to_import:
        return
    if conf.redis_url:
        queued = enqueue_import(tenant_id)
        click.echo(f"tenant {name}: POS import {'handed to the workers' if queued else 'already under way'}; "
                   "POS customers are created once it is complete (possync status shows it)")
    else:
        click.echo(f"tenant {name}: run `possync tenant import {name}` before going live; "
                   "POS customers are created once it is complete")


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
        click.echo(f"{row['name']}\t{row['shop_domain']}\t{row['pos_kind'] or NO_POS}")


@tenant.command("show")
@click.argument("name")
def tenant_show(name: str) -> None:
    """One tenant as JSON, secrets masked."""
    conf = settings()
    key = conf.require_secret_key()
    with session_scope(conf.database_url) as session:
        echo_json(describe(_named(session, name), key))


def _named(session: Session, name: str) -> Tenant:
    record = get_tenant(session, name)
    if record is None:
        raise LookupError(f"no tenant named {name!r}")
    return record


@tenant.command("webhook-url")
@click.argument("name")
@click.option("--base-url", default="", help="The receiver's public address, e.g. https://possync.example.com.")
@click.option("--rotate", is_flag=True, help="Issue a new token: the old URL stops working at once.")
def tenant_webhook_url(name: str, base_url: str, rotate: bool) -> None:
    """The X-Series webhook URL to register for that tenant (it holds the tenant's secret token)."""
    conf = settings()
    key = conf.require_secret_key()
    with session_scope(conf.database_url) as session:
        record = _named(session, name)
        if not webhook_tokens.wants_token(record):
            raise UsageProblem(f"tenant {name} is a {record.pos_kind} tenant: only lightspeed-x sends webhooks")
        token = webhook_tokens.issue(record, key) if rotate else webhook_tokens.ensure(record, key)
    click.echo(base_url.rstrip("/") + webhook_tokens.url_path(name, token))


@tenant.command("import")
@click.argument("name")
@click.option("--restart", is_flag=True, help="Read every POS customer again, even after a complete import.")
def tenant_import(name: str, restart: bool) -> None:
    """Read every POS customer into possync's index, here and now (resumable; progress shown)."""
    settings().require_secret_key()
    require_shared_limits("tenant import")  # without Redis, on a shared database, it would bypass the workers' limiter
    bar = tqdm(unit="customer", desc=f"importing {name}", file=sys.stderr, dynamic_ncols=True) \
        if sys.stderr.isatty() else None

    def on_page(row: PosImport) -> None:
        if bar is not None:
            bar.total = row.vendor_total
            bar.update(row.customers_read - bar.n)
        elif row.pages_read % PLAIN_PROGRESS_PAGES == 0:
            click.echo(f"{name}: {describe_progress(row)}, {row.pages_read:,} pages", err=True)

    try:
        row = import_here(name, on_page=on_page, restart_import=restart)
    except ImportBusyError as exc:
        raise UsageProblem(f"tenant {name}: {exc}") from None
    except (AdapterError, LockError) as exc:
        raise UsageProblem(f"tenant {name}: the POS import stopped: {exc}") from None
    finally:
        if bar is not None:
            bar.close()
    click.echo(f"tenant {name}: POS import {describe_progress(row)} in {row.pages_read:,} pages")


PLAIN_PROGRESS_PAGES = 10  # without a terminal: one line per this many pages
CSV_COLUMNS = ("shopify_customer_id", "action", "pos_customer_id", "matched_on", "candidates", "reason")


@tenant.command("preview")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output (INTERFACE.md).")
@click.option("--csv", "csv_file", type=click.Path(dir_okay=False, writable=True), default=None,
              help="Also write one row per Shopify customer to this CSV file.")
def tenant_preview(name: str, as_json: bool, csv_file: str | None) -> None:
    """Dry run: per Shopify customer, link / ambiguous / create / refused and why; writes nothing."""
    key = settings().require_secret_key()
    counts: dict[str, int] = {}
    with db_session() as session, contextlib.ExitStack() as stack:
        context = context_by_name(session, name, key)
        rows = summarise(preview(session, context, shopify_client_for(context)), counts)
        try:
            first = next(rows, None)  # the import is checked before anything is printed
        except ImportNotCompleteError as exc:
            raise UsageProblem(str(exc)) from None
        rows = itertools.chain([first] if first else [], rows)
        if csv_file:
            rows = _also_to_csv(rows, stack.enter_context(open(csv_file, "w", newline="", encoding="utf-8")))
        (_stream_json if as_json else _stream_table)(name, rows, counts)
        session.rollback()
    if csv_file and not as_json:
        click.echo(f"wrote {sum(counts.values()):,} rows to {csv_file}")


def _also_to_csv(rows: Iterator[PreviewRow], handle: TextIO) -> Iterator[PreviewRow]:
    writer = csv.writer(handle)
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        data = row.to_json()
        data["candidates"] = " ".join(row.candidates)
        writer.writerow(["" if data[column] is None else data[column] for column in CSV_COLUMNS])
        yield row


def _stream_json(name: str, rows: Iterator[PreviewRow], counts: dict[str, int]) -> None:
    """INTERFACE.md's preview object written as rows arrive: byte for byte what `echo_json` prints of it whole
    (keys sorted, so `summary` comes after `customers` and is complete by then)."""
    click.echo('{\n  "customers": [', nl=False)
    empty = True
    for row in rows:
        item = textwrap.indent(json.dumps(row.to_json(), indent=2, sort_keys=True), "    ")
        click.echo(("\n" if empty else ",\n") + item, nl=False)
        empty = False
    click.echo("]" if empty else "\n  ]", nl=False)
    click.echo(",\n" + json.dumps({"summary": counts, "tenant": name}, indent=2, sort_keys=True)[2:])


def _stream_table(name: str, rows: Iterator[PreviewRow], counts: dict[str, int]) -> None:
    line = "{:<16} {:<10} {:<38} {:<6} {}"
    click.echo(line.format("shopify id", "action", "POS id", "on", "candidates / reason"))
    for row in rows:
        detail = row.reason or (" ".join(row.candidates) if row.action == "ambiguous" else "")
        if row.near_match:  # rule 10: found by phone, but the email says it is someone else
            detail = f"{detail} (not {row.near_match}: same phone, another email)".strip()
        click.echo(line.format(row.shopify_customer_id, row.action, row.pos_customer_id or "-", row.matched_on or "-",
                               detail).rstrip())
    summary = ", ".join(f"{action} {n:,}" for action, n in counts.items())
    click.echo(f"{name}: {sum(counts.values()):,} Shopify customers: {summary}")
