"""Operator commands: poll, sync, failed, replay, status, prune, privacy."""

from __future__ import annotations

import sys
from typing import NoReturn

import click
from sqlalchemy import select

from models.tables import SyncAttempt, SyncJob, Tenant
from worker.cli.common import UsageProblem, echo_json, require_shared_limits, settings


def _job_row(job: SyncJob, tenant_name: str) -> dict[str, object]:
    return {"id": job.id, "tenant": tenant_name, "subject": job.subject, "direction": job.direction,
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
    from sqlalchemy.exc import SQLAlchemyError

    from adapters.errors import AdapterError
    from tasks.operations import poll_now
    from tasks.poll import PollError, failure_reason

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
    from tasks.onboarding import describe_progress, import_state

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
    from tasks.operations import resync

    job_id = resync(tenant, customer_id.rsplit("/", 1)[-1])
    click.echo(f"sync job {job_id} started for customer {customer_id}")


@click.group()
def failed() -> None:
    """Failed syncs (dead letters) with their reasons."""


@failed.command("list")
@click.option("--tenant", default=None)
@click.option("--json", "as_json", is_flag=True)
def failed_list(tenant: str | None, as_json: bool) -> None:
    """Failed syncs, oldest first."""
    from tasks.jobs import failed_jobs
    from worker.runtime import db_session

    with db_session() as session:
        names = dict(session.execute(select(Tenant.id, Tenant.name)).all())
        tenant_id = None
        if tenant is not None:
            tenant_id = next((i for i, n in names.items() if n == tenant), None)
            if tenant_id is None:
                raise LookupError(f"no tenant named {tenant!r}")
        rows = [_job_row(j, names[j.tenant_id]) for j in failed_jobs(session, tenant_id)]
    if as_json:
        echo_json(rows)
        return
    if not rows:
        click.echo("no failed syncs")
    for row in rows:
        click.echo(f"{row['id']}\t{row['tenant']}\t{row['step']}\t{row['error_class']}\t{row['error']}")


@failed.command("show")
@click.argument("job_id", type=int)
def failed_show(job_id: int) -> None:
    """One failed sync: event, step, error, attempts."""
    from worker.runtime import db_session

    with db_session() as session:
        job = session.get(SyncJob, job_id)
        if job is None:
            raise LookupError(f"no sync job {job_id}")
        row = _job_row(job, session.get_one(Tenant, job.tenant_id).name)
        row["attempts_log"] = [
            {"step": a.step, "outcome": a.outcome, "http_status": a.http_status, "latency_ms": a.latency_ms,
             "error": a.error, "at": a.started_at.isoformat()}
            # By time: attempts saved together are inserted in no particular order (`tasks.jobs.save`).
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
    from tasks.jobs import failed_jobs
    from tasks.operations import replay as do_replay
    from worker.runtime import db_session

    total = len(job_ids)
    if all_failed:
        with db_session() as session:
            total = len(failed_jobs(session))
    with click.progressbar(length=max(total, 1), label="replaying", file=click.get_text_stream("stderr")) as bar:
        counts = do_replay(job_ids, all_failed=all_failed, tenant=tenant, progress=bar.update)
    click.echo(f"replayed {counts['replayed']}, skipped {counts['skipped']} (not failed), missing {counts['missing']}")


@click.command()
@click.option("--json", "as_json", is_flag=True)
def status(as_json: bool) -> None:
    """Per tenant: backlog, last poll, failures, rate-limit state."""
    from tasks.onboarding import progress as import_progress
    from tasks.operations import queue_depths
    from tasks.operations import status as read_status

    rows = read_status()
    imports = _import_progress()
    for row in rows:
        row["import"] = imports.get(row["tenant"], import_progress(None))
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


def _import_progress() -> dict[str, dict[str, object]]:
    """Each tenant's POS import (SPEC rule 34) by tenant name."""
    from models.tables import PosImport
    from tasks.onboarding import progress
    from worker.runtime import db_session

    with db_session() as session:
        return {name: progress(row) for name, row in
                session.execute(select(Tenant.name, PosImport).join(PosImport, PosImport.tenant_id == Tenant.id))}


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
    from tasks.retention import prune_configured

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
    from models.tenants import get_tenant
    from tasks.privacy import export_customer
    from worker.runtime import db_session

    with db_session() as session:
        record = get_tenant(session, tenant)
        if record is None:
            raise LookupError(f"no tenant named {tenant!r}")
        echo_json(export_customer(session, record.id, customer_id.rsplit("/", 1)[-1]))
