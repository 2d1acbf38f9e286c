"""The console's pages and actions. Each view reads through `possync.tasks.console` or acts through the CLI's own
functions (`possync.tasks.operations`), records the action, and redirects to a page that shows the result."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, current_app, flash, redirect, render_template, request, session, url_for
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response  # what redirect() returns; Flask's own Response derives from it

from possync.entry.web.console import security
from possync.models.db import session_scope
from possync.models.tables import SyncJob, Tenant
from possync.models.tenants import get_tenant, load_context
from possync.tasks import duplicate_scan, operations
from possync.tasks.console import audit, customers, failures, matches, tenants
from possync.tasks.console.masking import mask_customer, mask_email, mask_phone
from possync.tasks.destinations import destination_of
from possync.tasks.onboarding import describe_progress, import_state
from possync.tasks.poll import failure_reason
from possync.tasks.shopify_duplicates import MergeRefusedError

blueprint = Blueprint("console", __name__, url_prefix="/console", template_folder="templates",
                      static_folder="static")
REFRESH_SECONDS = 10
DUPLICATES_SHOWN = 20  # groups per tenant on the page; the CLI lists them all
MERGE_WAIT_SECONDS = 20.0  # a merge job still running after this finishes without the page; its webhook moves links


@blueprint.before_request
def guard() -> Response | None:
    user = security.authenticated_user()
    if user is None:
        return security.challenge()
    security.bind_session(user)
    if request.method == "POST":
        security.check_csrf()
    return None


blueprint.after_request(security.add_headers)


@blueprint.app_template_global()
def csrf_token() -> str:
    return str(session.get(security.CSRF_FIELD, ""))


def _db() -> Any:
    return session_scope(current_app.extensions["possync.console.database_url"])


def _actor() -> str:
    return str(session["user"])


def _tenant(db: Session, name: str | None) -> Tenant | None:
    if not name:
        return None

    return get_tenant(db, name)


def _record(tenant_name: str, action: str) -> Response | None:
    """Record an action on the named tenant; a 404 (nothing recorded) when there is no such tenant."""
    with _db() as db:
        tenant = _tenant(db, tenant_name)
        if tenant is None:
            return _not_found(f"no tenant named {tenant_name!r}")
        audit.record(db, _actor(), action, tenant_id=tenant.id)
    return None


def _revealed(tenant_id: int, shopify_id: str | None) -> bool:
    return f"{tenant_id}:{shopify_id}" in session.get("revealed", [])


@blueprint.get("/")
def index() -> Response:
    return redirect(url_for("console.tenants_page"))


# --- tenants -----------------------------------------------------------------------------------------
@blueprint.get("/tenants")
def tenants_page() -> str:
    with _db() as db:
        rows = tenants.overview(db)
    return render_template("tenants.html", rows=rows, queues=operations.queue_depths(), refresh=REFRESH_SECONDS)


@blueprint.post("/tenants/<name>/poll")
def poll(name: str) -> Response:
    if (missing := _record(name, "poll")) is not None:
        return missing
    state = import_state(name)
    if state is not None and state.status != "complete":  # as `possync poll`: from no cursor it would read it all
        flash(f"no poll of {name} before its POS import is complete ({describe_progress(state)})", "error")
        return redirect(url_for("console.tenants_page"))
    try:
        summary = operations.poll_now(name)
        flash(f"poll of {name}: {summary['changed']} changed, {summary['jobs']} jobs started", "ok")
    except Exception as exc:  # a poll's failure is the operator's answer, shown on the page
        flash(f"the poll of {name} failed: {failure_reason(exc)}", "error")
    return redirect(url_for("console.tenants_page"))


# --- failed syncs ------------------------------------------------------------------------------------
def _filters(db: Session, args: Any) -> tuple[failures.Filters, dict[str, str]]:
    shown = {k: args.get(k, "") for k in ("tenant", "destination", "error_class")}
    tenant = _tenant(db, shown["tenant"])
    before = args.get("before", "")
    return failures.Filters(tenant.id if tenant else (-1 if shown["tenant"] else None), shown["destination"] or None,
                            shown["error_class"] or None, int(before) if before.isdigit() else None), shown


@blueprint.get("/failed")
def failed_page() -> str:
    with _db() as db:
        filters, shown = _filters(db, request.args)
        rows = failures.failed_page(db, filters)
        names = tenants.tenant_names(db)
        classes = failures.error_classes(db, filters)
    return render_template("failed.html", rows=rows, names=names, classes=classes, shown=shown,
                           destinations=failures.DESTINATIONS, destination_of=destination_of, advice=failures.advice,
                           page_size=failures.PAGE_SIZE)


@blueprint.get("/jobs/<int:job_id>")
def job_page(job_id: int) -> str | Response:
    with _db() as db:
        found = failures.job_with_attempts(db, job_id)
        if found is None:
            return _not_found(f"no sync job {job_id}")
        job, attempts = found
        tenant = tenants.tenant_names(db)[job.tenant_id]
    return render_template("job.html", job=job, attempts=attempts, tenant=tenant, advice=failures.advice)


def _replay(job_ids: list[int], what: str) -> None:
    with _db() as db:
        audit.record(db, _actor(), "replay", jobs=job_ids[:100], count=len(job_ids), what=what)
        for job in db.scalars(select(SyncJob).where(SyncJob.id.in_(job_ids[:100]))):
            if job.subject:
                audit.record(db, _actor(), "replay", tenant_id=job.tenant_id, customer=job.subject, job=job.id)
    counts = operations.replay(job_ids)
    flash(f"{what}: replayed {counts['replayed']}, skipped {counts['skipped']} (not failed), "
          f"missing {counts['missing']}", "ok")


@blueprint.post("/failed/replay")
def replay() -> Response:
    only = request.form.get("only", "")  # a row's own button: that job, whatever else is ticked
    ids = [int(only)] if only.isdigit() else [int(v) for v in request.form.getlist("job_id") if v.isdigit()]
    if not ids:
        flash("select at least one failed sync to replay", "error")
    else:
        _replay(ids, f"replay of {len(ids)} selected" if len(ids) > 1 else f"replay of job {ids[0]}")
    return redirect(_back(url_for("console.failed_page")))


@blueprint.post("/failed/replay-all")
def replay_all() -> Response:
    with _db() as db:
        filters, shown = _filters(db, request.form)
        ids = failures.failed_ids(db, filters)
    _replay(ids, "replay of every failed sync shown")
    query: dict[str, Any] = {k: v for k, v in shown.items() if v}
    return redirect(url_for("console.failed_page", **query))


# --- a customer's story ------------------------------------------------------------------------------
@blueprint.get("/customers")
def customers_page() -> str:
    query = request.args.get("q", "").strip()
    with _db() as db:
        found = customers.search(db, query) if query else []
    return render_template("customers.html", query=query, found=found)


@blueprint.get("/customers/<tenant_name>/<shopify_id>")
def story_page(tenant_name: str, shopify_id: str) -> str | Response:
    pos_id = request.args.get("pos") or None
    with _db() as db:
        tenant = _tenant(db, tenant_name)
        if tenant is None:
            return _not_found(f"no tenant named {tenant_name!r}")
        subject = None if shopify_id == "-" else shopify_id
        told = customers.story(db, tenant.id, subject, pos_id)
        revealed = _revealed(tenant.id, subject)
        customer = told.customer if revealed else mask_customer(told.customer)
        near = matches.near_matches(db, tenant.id, shopify_id=subject) if subject else []
    return render_template("story.html", story=told, tenant=tenant_name, shopify_id=shopify_id,
                           customer=customer, revealed=revealed, near=near)


@blueprint.post("/customers/<tenant_name>/<shopify_id>/reveal")
def reveal(tenant_name: str, shopify_id: str) -> Response:
    with _db() as db:
        tenant = _tenant(db, tenant_name)
        if tenant is None:
            return _not_found(f"no tenant named {tenant_name!r}")
        audit.record(db, _actor(), "reveal", tenant_id=tenant.id, customer=shopify_id,
                     reason=request.form.get("reason", "")[:200])
        session["revealed"] = [*session.get("revealed", []), f"{tenant.id}:{shopify_id}"][-50:]
    return redirect(url_for("console.story_page", tenant_name=tenant_name, shopify_id=shopify_id))


@blueprint.post("/customers/<tenant_name>/<shopify_id>/resync")
def resync(tenant_name: str, shopify_id: str) -> Response:
    return _act(tenant_name, shopify_id, "resync", lambda db, tenant: None)


def _act(tenant_name: str, shopify_id: str, action: str,
         change: Callable[[Session, Tenant], str | None], **detail: Any) -> Response:
    """Record the action, apply `change` (a link), then resync the customer through the CLI's `possync sync`."""
    with _db() as db:
        tenant = _tenant(db, tenant_name)
        if tenant is None:
            return _not_found(f"no tenant named {tenant_name!r}")
        try:
            before = change(db, tenant)
        except LookupError as exc:
            flash(str(exc), "error")
            return redirect(_back(url_for("console.matches_page")))
        audit.record(db, _actor(), action, tenant_id=tenant.id, customer=shopify_id, **detail,
                     **({"previous_pos": before} if before else {}))
    job_id = operations.resync(tenant_name, shopify_id)
    flash(f"{action} of customer {shopify_id}: sync job {job_id} started", "ok")
    return redirect(url_for("console.story_page", tenant_name=tenant_name, shopify_id=shopify_id))


# --- matches -----------------------------------------------------------------------------------------
@blueprint.get("/matches")
def matches_page() -> str:
    with _db() as db:
        names = tenants.tenant_names(db)
        ambiguous = matches.ambiguous(db)
        near = matches.near_matches(db)
        scans = duplicate_scan.last_scans(db)
    return render_template("matches.html", names=names, ambiguous=ambiguous, near=near, scans=scans,
                           duplicates_shown=DUPLICATES_SHOWN)


@blueprint.post("/matches/link")
def link() -> Response:
    tenant_name = request.form.get("tenant", "")
    shopify_id = request.form.get("shopify_id", "")
    pos_id = request.form.get("pos_id", "")
    reason = request.form.get("reason", "ambiguous")
    if not (tenant_name and shopify_id and pos_id):
        flash("a link needs a tenant, a Shopify customer and a POS customer", "error")
        return redirect(url_for("console.matches_page"))
    action = "link_near_match" if reason == "near_match" else "relink"
    return _act(tenant_name, shopify_id, action,
                lambda db, tenant: matches.relink(db, tenant.id, shopify_id, pos_id), pos=pos_id)


@blueprint.post("/matches/shopify-duplicates/<tenant_name>/scan")
def scan_duplicates(tenant_name: str) -> Response:
    """Search the tenant's Shopify customers again, in a worker: the page lists what the search stores."""
    if (missing := _record(tenant_name, "duplicate_scan")) is not None:
        return missing
    try:
        duplicate_scan.request_scan(tenant_name)
        flash(f"search of {tenant_name}'s Shopify customers started: its groups show here when it is done", "ok")
    except Exception as exc:  # a broker that does not answer is the operator's answer, shown on the page
        flash(f"the search of {tenant_name}'s Shopify customers could not start: {type(exc).__name__}: {exc}",
              "error")
    return redirect(url_for("console.matches_page") + "#shopify-duplicates")


@blueprint.post("/matches/shopify-duplicates/<tenant_name>/merge")
def merge_duplicates(tenant_name: str) -> Response:
    """`possync shopify duplicates --merge ID --into ID`: the same checks, merge and consent kept."""
    merged, into = request.form.get("merge", ""), request.form.get("into", "")
    with _db() as db:
        tenant = _tenant(db, tenant_name)
        if tenant is None:
            return _not_found(f"no tenant named {tenant_name!r}")
        if not (merged.isdigit() and into.isdigit()):
            flash("a merge needs two Shopify customer ids", "error")
            return redirect(url_for("console.matches_page") + "#shopify-duplicates")
        context = load_context(tenant, current_app.extensions["possync.console.secret_key"])
        try:
            result = duplicate_scan.merge(db, context, merged, into, timeout=MERGE_WAIT_SECONDS)
            outcome = result.status.lower()
            kept = f"; kept marketing subscription: {', '.join(result.consent_kept)}" if result.consent_kept else ""
            flash(f"merged Shopify customer {merged} into {into}: job {result.job_id} {outcome}{kept}",
                  "ok" if result.status == "COMPLETED" else "error")
        except MergeRefusedError as exc:
            outcome = "refused"
            flash(f"no merge of {merged} into {into}: {exc}", "error")
        except Exception as exc:  # Shopify's own failure, shown as the CLI would say it
            db.rollback()
            outcome = "failed"
            flash(f"the merge of {merged} into {into} failed: {type(exc).__name__}: {exc}", "error")
        audit.record(db, _actor(), "shopify_merge", tenant_id=tenant.id, customer=merged, into=into, outcome=outcome)
    return redirect(url_for("console.matches_page") + "#shopify-duplicates")


# --- audit -------------------------------------------------------------------------------------------
@blueprint.get("/audit")
def audit_page() -> str:
    with _db() as db:
        rows = audit.recent(db)
        names = tenants.tenant_names(db)
    return render_template("audit.html", rows=rows, names=names)


def _back(default: str) -> str:
    """The page an action came from, when it is a console page (never another site: no open redirect)."""
    back = request.form.get("back", "")
    return back if back.startswith("/console/") and "\\" not in back else default


def _not_found(message: str) -> Response:
    return Response(message + "\n", 404, {"Content-Type": "text/plain; charset=utf-8"})


@blueprint.app_template_filter("mask_email")
def _mask_email(value: str | None) -> str | None:
    return mask_email(value)


@blueprint.app_template_filter("mask_phone")
def _mask_phone(value: str | None) -> str | None:
    return mask_phone(value)
