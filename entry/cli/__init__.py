"""The `possync` command (INTERFACE.md, "Commands"). Each subcommand group lives in its own module."""

from __future__ import annotations

import sys

import click

from possync.entry.cli.common import fail_cleanly
from possync.worker.settings import env_file_warning


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="possync", prog_name="possync", message="%(prog)s %(version)s")
def cli() -> None:
    """possync keeps Shopify customers and POS customers (Lightspeed R-Series, X-Series, Heartland) in sync."""


def _register() -> None:
    from possync.entry.cli import crm, db, demo, flower, ops, run, shipstation, shopify, tenant

    cli.add_command(db.db)
    cli.add_command(tenant.tenant)
    cli.add_command(shopify.shopify)
    for command in (run.serve, run.worker, run.beat, flower.flower):
        cli.add_command(command)
    for command in (ops.poll, ops.sync, ops.failed, ops.replay, ops.status, ops.prune, ops.privacy):
        cli.add_command(command)
    cli.add_command(shipstation.shipstation)
    cli.add_command(demo.demo)
    cli.add_command(crm.crm)


_register()


def main() -> None:
    warning = env_file_warning()
    if warning:
        click.echo(f"possync: {warning}", err=True)
    with fail_cleanly():
        cli.main(prog_name="possync", standalone_mode=True)
    sys.exit(0)
