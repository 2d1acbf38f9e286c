"""`possync crm backfill`: every Shopify customer to the tenant's CRM (SPEC rule 40)."""

from __future__ import annotations

import sys
import time

import click
from tqdm import tqdm

from possync.adapters.errors import AdapterError
from possync.entry.cli.common import UsageProblem, require_shared_limits, settings
from possync.models.tables import CrmState
from possync.models.tenants import context_by_name
from possync.tasks.clients import crm_adapter_for, shopify_client_for
from possync.tasks.crm_backfill import Estimate, run_backfill
from possync.worker.runtime import db_session

PLAIN_PROGRESS_EVERY = 500  # without a terminal: one line per this many customers


@click.group()
def crm() -> None:
    """The CRM destination (Freshworks CRM)."""


@crm.command("backfill")
@click.option("--tenant", "name", required=True, help="Tenant name.")
@click.option("--restart", is_flag=True, help="Start again from the first Shopify customer.")
def backfill(name: str, restart: bool) -> None:
    """Every Shopify customer to the tenant's CRM at its hourly budget (resumable; progress and time left)."""
    key = settings().require_secret_key()
    require_shared_limits("crm backfill")  # its requests take places in the workers' CRM windows

    bar = None

    def on_start(estimate: Estimate) -> None:
        nonlocal bar
        click.echo(f"tenant {name}: {estimate.describe()}", err=True)
        if sys.stderr.isatty():
            bar = tqdm(total=estimate.customers, unit="customer", desc=f"CRM backfill {name}", file=sys.stderr,
                       dynamic_ncols=True)

    def on_customer(row: CrmState) -> None:
        if bar is not None:
            bar.update(row.backfill_done - bar.n)
        elif row.backfill_done % PLAIN_PROGRESS_EVERY == 0:
            total = f" of {row.backfill_total:,}" if row.backfill_total is not None else ""
            click.echo(f"{name}: {row.backfill_done:,}{total} customers sent", err=True)

    with db_session() as session:
        tenant = context_by_name(session, name, key)
        if not tenant.crm_kind:
            raise UsageProblem(f"tenant {name} has no crm block in its tenant file")
        try:
            row, counts = run_backfill(session, tenant, shopify_client_for(tenant),
                                       crm_adapter_for(tenant, wait=lambda exc: time.sleep(exc.retry_after)),
                                       on_start=on_start, on_customer=on_customer, restart=restart)
        except AdapterError as exc:
            raise UsageProblem(f"tenant {name}: the CRM backfill stopped (run it again to resume): {exc}") from None
        finally:
            if bar is not None:
                bar.close()
        click.echo(f"tenant {name}: CRM backfill {row.backfill_status}, {row.backfill_done:,} customers: "
                   f"{counts.written:,} written, {counts.unchanged:,} unchanged, {counts.refused:,} refused "
                   "(possync failed list --destination crm)")

