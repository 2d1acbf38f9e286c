"""`possync shipstation read|export|duplicates` (SPEC section 11)."""

from __future__ import annotations

import csv

import click

from possync.entry.cli.common import echo_json, require_shared_limits, settings
from possync.tasks.shipstation.columns import TemplateError
from possync.tasks.shipstation.operations import duplicates_here, export_here, read_here
from possync.worker.runtime import db_session


@click.group()
def shipstation() -> None:
    """ShipStation: read its customers, prepare its import file and its merge plan."""


@shipstation.command("read")
@click.option("--tenant", required=True, help="Tenant name.")
@click.option("--full", is_flag=True, help="Read every customer again, not only those changed since the last read.")
def shipstation_read(tenant: str, full: bool) -> None:
    """Read the tenant's ShipStation customers into possync (changed ones since the last read); JSON summary."""
    key = settings().require_secret_key()
    require_shared_limits("shipstation read")

    with db_session() as session:
        summary = read_here(session, tenant, key, full=full)
    echo_json({"tenant": tenant, **summary.to_json()})


@shipstation.command("export")
@click.option("--tenant", required=True, help="Tenant name.")
@click.option("--out", required=True, type=click.Path(dir_okay=False, writable=True), help="The CSV to write.")
@click.option("--template", type=click.Path(dir_okay=False, exists=True),
              help="ShipStation's downloaded CustomerImportSample.csv: its header row is copied exactly.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable summary on stdout.")
def shipstation_export(tenant: str, out: str, template: str | None, as_json: bool) -> None:
    """The customer import CSV: customers ShipStation lacks and manual records out of date."""
    key = settings().require_secret_key()

    with db_session() as session:
        try:
            summary, header, missing_tags = export_here(session, tenant, key, out, template)
        except TemplateError as exc:
            raise LookupError(str(exc)) from None
    for left in summary.left_out:
        click.echo(f"possync: left out Shopify customer {left.shopify_customer_id}: {left.reason}", err=True)
    for name in header.unknown:
        click.echo(f"possync: warning: the template's column {name!r} is not one possync fills; left empty", err=True)
    for name in missing_tags:
        click.echo(f"possync: warning: ShipStation has no tag {name!r} (tag_rules); create it before importing",
                   err=True)
    if as_json:
        echo_json({"tenant": tenant, "out": out, **summary.to_json(), "unknown_columns": header.unknown,
                   "missing_tags": missing_tags})
        return
    click.echo(f"{out}: {summary.create} new, {summary.update} updated; {summary.up_to_date} up to date, "
               f"{summary.store_imported} store-imported (never in the file), {len(summary.left_out)} left out")


@shipstation.command("duplicates")
@click.option("--tenant", required=True, help="Tenant name.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--csv", "csv_path", type=click.Path(dir_okay=False, writable=True), help="Also write the plan as CSV.")
def shipstation_duplicates(tenant: str, as_json: bool, csv_path: str | None) -> None:
    """Merge plan: records at one postal address with different emails, the survivor and those to absorb."""
    key = settings().require_secret_key()

    with db_session() as session:
        groups = duplicates_here(session, tenant, key)
    if csv_path:
        with open(csv_path, "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["address", "survivor", "absorb", "emails"])
            for group in groups:
                writer.writerow([group.address, group.survivor, " ".join(group.absorb), " ".join(group.emails)])
    if as_json:
        echo_json({"tenant": tenant, "groups": [g.to_json() for g in groups]})
        return
    for group in groups:
        click.echo(f"keep {group.survivor}, absorb {' '.join(group.absorb)}\t{group.address}")
    click.echo(f"{len(groups)} group(s) to combine in ShipStation (Customers -> Combine)")
