"""Operator commands: poll, sync, failed, replay, status, prune, privacy."""

from __future__ import annotations

import sys
from typing import NoReturn

import click
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from possync.adapters.errors import AdapterError
from possync.entry.cli.common import UsageProblem, echo_json, require_shared_limits, settings
from possync.models.tables import SyncAttempt, SyncJob, Tenant
from possync.models.tenants import get_tenant
from possync.tasks.destinations import destination_of
from possync.tasks.jobs import failed_jobs
from possync.tasks.onboarding import describe_progress, import_state
from possync.tasks.operations import poll_now, queue_depths, resync
from possync.tasks.operations import replay as do_replay
from possync.tasks.operations import status as read_status
from possync.tasks.poll import PollError, failure_reason
from possync.tasks.privacy import export_customer
from possync.tasks.retention import prune_configured
from possync.worker.runtime import db_session


def _job_row(job: SyncJob, tenant_name: str) -> dict[str, object]:
    crm_missing = (job.context or {}).get("crm_missing")
    extra = {"crm_missing": crm_missing} if crm_missing else {}
    return {**extra, "id": job.id, "tenant": tenant_name, "subject": job.subject, "direction": job.direction,
            "destination": destination_of(job.direction),
            "step": job.step, "status": job.status, "attempts": job.attempts, "error": job.last_error,
            "error_class": job.last_error_class, "event_id": job.event_id, "ambiguous": bool(job.ambiguous),
            "near_match": (job.context or {}).get("near_match"),
            "updated_at": job.updated_at.isoformat() if job.updated_at else None}


@click.command()
@click.option("--tenant", required=True, help="Tenant name.")
def poll(tenant: str) -> None:
    """One POS change poll for that tenant, now."""
    settings().require_secret_key()
    require_shared_limits("poll")


    _require_import(tenant, "poll")  # from no cursor, a poll would read the whole base and push it to Shopify
    try:
        summary = poll_now(tenant)
    except PollError as exc:  # stored as the tenant's last poll error too (`possync status`)
        _poll_failed(tenant, exc.reason)
    except (AdapterError, SQLAlchemyError) as exc:  # before the poll began: the POS settings, the database
        _poll_failed(tenant, failure_reason(exc))
    echo_json(summary)


def _poll_failed(tenant: str, reason: str) -> NoReturn:
    click.echo(f"possync: the poll of tenant {tenant!r} failed: {reason}", err=True)
    sys.exit(1)


def _require_import(tenant: str, what: str) -> None:
    state = import_state(tenant)
    if state is not None and state.status != "complete":
        raise UsageProblem(f"tenant {tenant}: no {what} before its POS import is complete "
                           f"({describe_progress(state)}); see `possync tenant import {tenant}`")


@click.command()
@click.option("--tenant", required=True)
@click.option("--shopify-customer", "customer_id", required=True, help="Shopify customer id.")
def sync(tenant: str, customer_id: str) -> None:
    """Resync one Shopify customer to the POS, now."""
    settings().require_secret_key()
    require_shared_limits("sync")
    if not settings().redis_url:  # run here, a create would wait for the import in this process
        _require_import(tenant, "sync")

    job_ids = resync(tenant, customer_id.rsplit("/", 1)[-1])
    for job_id in job_ids:
        click.echo(f"sync job {job_id} started for customer {customer_id}")


@click.group()
def failed() -> None:
    """Failed syncs (dead letters) with their reasons."""


@failed.command("list")
@click.option("--tenant", default=None)
@click.option("--destination", type=click.Choice(["pos", "crm", "shopify"]), default=None,
              help="Only the failed syncs to this destination.")
@click.option("--json", "as_json", is_flag=True)
def failed_list(tenant: str | None, as_json: bool, destination: str | None) -> None:
    """Failed syncs, oldest first."""
    with db_session() as session:
        names = dict(session.execute(select(Tenant.id, Tenant.name)).all())
        tenant_id = None
        if tenant is not None:
            tenant_id = next((i for i, n in names.items() if n == tenant), None)
            if tenant_id is None:
                raise LookupError(f"no tenant named {tenant!r}")
        rows = [_job_row(j, names[j.tenant_id]) for j in failed_jobs(session, tenant_id)]
    if destination is not None:
        rows = [r for r in rows if r["destination"] == destination]
    if as_json:
        echo_json(rows)
        return
    if not rows:
        click.echo("no failed syncs")
    for row in rows:
        click.echo(f"{row['id']}\t{row['tenant']}\t{row['destination']}\t{row['step']}\t{row['error_class']}\t"
                   f"{row['error']}")


@failed.command("show")
@click.argument("job_id", type=int)
def failed_show(job_id: int) -> None:
    """One failed sync: event, step, error, attempts."""
    with db_session() as session:
        job = session.get(SyncJob, job_id)
        if job is None:
            raise LookupError(f"no sync job {job_id}")
        row = _job_row(job, session.get_one(Tenant, job.tenant_id).name)
        for name in ("warnings", "tags_dropped"):  # SPEC rules 52 and 50: recorded, not failures
            row[name] = (job.context or {}).get(name) or []
        row["attempts_log"] = [
            {"step": a.step, "outcome": a.outcome, "http_status": a.http_status, "latency_ms": a.latency_ms,
             "error": a.error, "at": a.started_at.isoformat()}
            # By time: attempts saved together are inserted in no particular order (`possync.tasks.jobs.save`).
            for a in session.scalars(select(SyncAttempt).where(SyncAttempt.job_id == job.id)
                                     .order_by(SyncAttempt.started_at, SyncAttempt.id))
        ]
    echo_json(row)


@click.command()
@click.argument("job_ids", nargs=-1, type=int)
@click.option("--all", "all_failed", is_flag=True, help="Replay every failed sync.")
@click.option("--tenant", default=None, help="With --all: only this tenant's.")
def replay(job_ids: tuple[int, ...], all_failed: bool, tenant: str | None) -> None:
    """Replay failed syncs from the step that failed; idempotent."""
    if not job_ids and not all_failed:
        raise click.UsageError("give job ids or --all")
    if tenant and not all_failed:
        raise click.UsageError("--tenant goes with --all")
    settings().require_secret_key()
    require_shared_limits("replay")

    total = len(job_ids)
    if all_failed:
        with db_session() as session:
            total = len(failed_jobs(session))
    with click.progressbar(length=max(total, 1), label="replaying", file=sys.stderr) as bar:
        counts = do_replay(job_ids, all_failed=all_failed, tenant=tenant, progress=bar.update)
    click.echo(f"replayed {counts['replayed']}, skipped {counts['skipped']} (not failed), missing {counts['missing']}")


@click.command()
@click.option("--json", "as_json", is_flag=True)
def status(as_json: bool) -> None:
    """Per tenant: backlog, last poll, failures, rate-limit state."""
    rows = read_status()
    if as_json:
        echo_json({"tenants": rows, "queues": queue_depths()})
        return
    if not rows:
        click.echo("no tenants")
    for row in rows:
        backlog = row["backlog"]
        click.echo(f"{row['tenant']} ({row['pos_kind']}): backlog {backlog['jobs']} jobs / {backlog['events']} events, "
                   f"failed {row['failed']}, ambiguous {row['ambiguous_matches']}, near matches {row['near_matches']}, "
                   f"last poll {row['last_poll']}, POS import {_import_line(row['import'])}")
        if row.get("crm"):
            click.echo(f"  CRM ({row['crm']['kind']}): {_crm_line(row['crm'])}")


def _crm_line(state: dict) -> str:
    """The connect check's gaps (rule 39), the backfill (rule 40) and the budget left this hour (rule 44)."""
    backfill = state["backfill"]
    total = f"/{backfill['total']:,}" if backfill["total"] is not None else ""
    parts = [f"backfill {backfill['status'] or 'not run'} {backfill['done']:,}{total}",
             f"{state['budget']['left_this_hour']} of {state['budget']['requests_per_hour']} requests left this hour"]
    if state["missing"]:
        parts.append("missing in the CRM: " + "; ".join(state["missing"]))
    if state["check_error"]:
        parts.append(f"connect check failed: {state['check_error']}")
    return ", ".join(parts)


def _import_line(state: dict[str, object]) -> str:
    if state["status"] is None:
        return "not required"
    total = f"/{state['total']:,}" if state["total"] is not None else ""
    error = f" ({state['error']})" if state["error"] else ""
    return f"{state['status']} {state['read']:,}{total}{error}"


@click.command()
@click.option("--older-than", "days", type=click.IntRange(min=1), default=None,
              help="Age in days (default: POSSYNC_RETENTION_DAYS, 30).")
def prune(days: int | None) -> None:
    """Delete settled history past its retention: succeeded jobs, processed events (beat runs it hourly)."""
    result = prune_configured(older_than_days=days)
    click.echo(f"pruned {result.jobs} succeeded jobs and {result.events} events in {result.batches} batches")


@click.group()
def privacy() -> None:
    """Privacy requests."""


@privacy.command("export")
@click.option("--tenant", required=True)
@click.option("--shopify-customer", "customer_id", required=True)
def privacy_export(tenant: str, customer_id: str) -> None:
    """JSON of everything held about that customer."""
    with db_session() as session:
        record = get_tenant(session, tenant)
        if record is None:
            raise LookupError(f"no tenant named {tenant!r}")
        echo_json(export_customer(session, record.id, customer_id.rsplit("/", 1)[-1]))
