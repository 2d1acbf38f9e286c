"""`possync flower`: Flower on the same broker, behind one basic-auth login.

What Flower would otherwise allow, and possync does not:
- more than one login: Flower splits its basic-auth option on commas, so the one login comes from
  POSSYNC_FLOWER_BASIC_AUTH (validated in `possync.worker.settings`) and Flower's own ways of adding logins
  (`--basic-auth`, `FLOWER_BASIC_AUTH`) are refused;
- an open console on every interface: `--unauthenticated` binds 127.0.0.1 unless an address is given;
- `/metrics` for anyone: it asks for the same login as Flower's pages.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

import click

from possync.entry.cli.common import settings
from possync.worker.celery_app import app

LOOPBACK = "127.0.0.1"


def _option_name(arg: str) -> str:
    return arg.lstrip("-").partition("=")[0].replace("-", "_") if arg.startswith("--") else ""


def flower_argv(extra: Sequence[str], auth: str | None, unauthenticated: bool,
                environ: Mapping[str, str]) -> list[str]:
    """The arguments Flower is started with; raises `click.ClickException` for a setup it must refuse."""
    names = {_option_name(arg) for arg in extra}
    if "basic_auth" in names or environ.get("FLOWER_BASIC_AUTH"):
        raise click.ClickException(
            "give Flower's login through POSSYNC_FLOWER_BASIC_AUTH only, not --basic-auth or FLOWER_BASIC_AUTH"
        )
    if not auth and not unauthenticated:
        raise click.ClickException(
            "POSSYNC_FLOWER_BASIC_AUTH is not set (user:password); refusing to start Flower without auth "
            "(pass --unauthenticated to open it on this machine only)"
        )
    argv = ["flower", *extra]
    if auth:
        argv.append(f"--basic-auth={auth}")
    elif "address" not in names and not environ.get("FLOWER_ADDRESS"):
        argv.append(f"--address={LOOPBACK}")
    return argv


def protect_metrics() -> None:
    """Give Flower's `/metrics` the login check its pages have (`tornado.web.authenticated`, as Flower's
    own views use). Without auth configured Flower lets every request through, as for its pages."""
    # Flower and tornado load only for `possync flower`, not for every command's help.
    from flower.views import monitor
    from tornado.web import authenticated

    if not getattr(monitor.Metrics.get, "possync_protected", False):
        protected = authenticated(monitor.Metrics.get)
        protected.possync_protected = True  # type: ignore[attr-defined]
        monitor.Metrics.get = protected


@click.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.option("--unauthenticated", is_flag=True,
              help="Start without basic auth, listening on 127.0.0.1 unless --address is given.")
@click.pass_context
def flower(ctx: click.Context, unauthenticated: bool) -> None:
    """Flower on the same broker; basic auth from POSSYNC_FLOWER_BASIC_AUTH=user:password."""
    conf = settings()
    conf.require_redis("flower")
    argv = flower_argv(ctx.args, conf.flower_basic_auth, unauthenticated, os.environ)
    protect_metrics()

    # Flower finds the broker's queues from the scheme of the connection's URL (redis://, sentinel://), which
    # possync's transport class would replace with its import path: kombu's own transport is used here.
    app.conf.broker_transport = None
    app.start(argv)
