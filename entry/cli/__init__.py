"""The `possync` command (INTERFACE.md, "Commands"). Each subcommand group lives in its own module."""

from __future__ import annotations

import importlib
import sys

import click

from possync.entry.cli.common import fail_cleanly
from possync.worker.settings import env_file_warning

# Each command and the module (`possync.entry.cli.<module>`) that defines it under that name. A module is
# loaded when one of its commands runs (or help lists them), so `possync worker` loads no task module
# that another command needs, and a module's imports stay at its top.
COMMANDS = {
    "db": "db", "tenant": "tenant", "shopify": "shopify", "crm": "crm", "shipstation": "shipstation",
    "serve": "run", "worker": "run", "beat": "run", "flower": "flower", "demo": "demo",
    "poll": "ops", "sync": "ops", "failed": "ops", "replay": "ops", "status": "ops", "prune": "ops", "privacy": "ops",
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        module = COMMANDS.get(cmd_name)
        if module is None:
            return None
        command = getattr(importlib.import_module(f"possync.entry.cli.{module}"), cmd_name)
        assert isinstance(command, click.Command)
        return command


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="possync", prog_name="possync", message="%(prog)s %(version)s")
def cli() -> None:
    """possync keeps Shopify customers and POS customers (Lightspeed R-Series, X-Series, Heartland) in sync."""


def main() -> None:
    warning = env_file_warning()
    if warning:
        click.echo(f"possync: {warning}", err=True)
    with fail_cleanly():
        cli.main(prog_name="possync", standalone_mode=True)
    sys.exit(0)
