"""`possync demo`: the whole pipeline on the embedded default, against the built-in fakes."""

from __future__ import annotations

import importlib.util

import click

DEMO_MODULES = ("cheroot", "fakeredis")  # the `demo` extra: the fakes' server and the embedded Redis


@click.command()
@click.option("--keep-running", is_flag=True, help="Leave the receiver up afterwards and print curl lines.")
@click.option("--workdir", default=None, help="Where the demo's SQLite file goes (default: a temporary folder).")
def demo(keep_running: bool, workdir: str | None) -> None:
    """Run a scripted day of events through possync against sandboxes of Shopify and the three POS."""
    missing = [name for name in DEMO_MODULES if importlib.util.find_spec(name) is None]
    if missing:
        raise click.ClickException(f"possync demo needs the demo extra (missing {', '.join(missing)}): "
                                   "pip install 'possync[demo]'")
    # Deliberately here: the demo imports its extra (fakeredis, cheroot), checked for just above.
    from possync.entry.demo import run_demo

    raise SystemExit(run_demo(keep_running=keep_running, workdir=workdir))
