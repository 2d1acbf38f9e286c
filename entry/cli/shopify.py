"""`possync shopify duplicates`: Shopify customers that are one person, and merging them (SPEC rule 51)."""

from __future__ import annotations

import click

from possync.entry.cli.common import UsageProblem, echo_json, require_shared_limits, settings
from possync.models.shopify_payloads import shopify_id
from possync.models.tenants import context_by_name
from possync.tasks.duplicate_scan import merge, scan
from possync.tasks.shopify_duplicates import MergeRefusedError
from possync.worker.runtime import db_session


@click.group()
def shopify() -> None:
    """The tenant's Shopify customers as Shopify itself manages them."""


@shopify.command("duplicates")
@click.option("--tenant", "name", required=True, help="Tenant name.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (INTERFACE.md's shape).")
@click.option("--merge", "merged", default=None, help="Shopify customer id to merge away.")
@click.option("--into", default=None, help="Shopify customer id that remains.")
def duplicates(name: str, as_json: bool, merged: str | None, into: str | None) -> None:
    """List groups of Shopify customers that are one person, with Shopify's merge blockers and limits (and keep
    them for the console); with --merge ID --into ID, merge that pair and follow the merge job to its end."""
    if (merged is None) != (into is None):
        raise UsageProblem("--merge and --into go together: --merge ID --into ID")
    key = settings().require_secret_key()
    require_shared_limits("shopify duplicates")

    with db_session() as session:
        context = context_by_name(session, name, key)
        if merged is not None and into is not None:
            try:
                result = merge(session, context, _id(merged, "--merge"), _id(into, "--into"))
            except MergeRefusedError as exc:
                raise UsageProblem(str(exc)) from None
            if as_json:
                echo_json(result.to_json())
            else:
                kept = f"; kept marketing subscription: {', '.join(result.consent_kept)}" if result.consent_kept else ""
                click.echo(f"merged {result.merged} into {result.into}: job {result.job_id} "
                           f"{result.status.lower()}{kept}")
            if result.status != "COMPLETED":
                raise click.exceptions.Exit(1)
            return
        groups = scan(session, context)  # stored for the console's matches page
    if as_json:
        echo_json({"tenant": name, "groups": [g.to_json() for g in groups]})
        return
    click.echo(f"tenant {name}: {len(groups)} group(s) of Shopify customers that are one person")
    for group in groups:
        verdict = "mergeable" if group.mergeable else "blocked: " + ", ".join(group.blockers + group.limits)
        click.echo(f"  {', '.join(group.customers)}  ({group.reason})  {verdict}")


def _id(value: str, option: str) -> str:
    try:
        return shopify_id(value)
    except ValueError:
        raise UsageProblem(f"{option}: {value[:40]!r} is not a Shopify customer id (a number or a gid)") from None
