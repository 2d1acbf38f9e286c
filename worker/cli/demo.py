"""`possync demo`: the whole pipeline on the embedded default, against the built-in fakes."""

from __future__ import annotations

import click


@click.command()
@click.option("--keep-running", is_flag=True, help="Leave the receiver up afterwards and print curl lines.")
@click.option("--workdir", default=None, help="Where the demo's SQLite file goes (default: a temporary folder).")
def demo(keep_running: bool, workdir: str | None) -> None:
    """Run a scripted day of events through possync against sandboxes of Shopify and the three POS."""
    from worker.demo import run_demo

    raise SystemExit(run_demo(keep_running=keep_running, workdir=workdir))
