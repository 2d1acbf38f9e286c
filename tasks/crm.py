"""The CRM destination's steps (SPEC section 10): fetch the Shopify customer, upsert its contact.

crm_fetch_customer -> crm_upsert_contact, run by the same runner as the POS chain, on the CRM's own queue
and bucket. The connect check (rule 39) is cached per tenant in `crm_state`; what the CRM lacks and
cannot be created is carried on every job it affects (`crm_missing`) while the rest of the contact syncs.
"""

from __future__ import annotations

from datetime import UTC, timedelta
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite

from possync.adapters.errors import AdapterError, FatalError
from possync.models.crm_links import get_crm_link, save_crm_link
from possync.models.normalise import email_key
from possync.models.shopify_values import ShopifyCustomer
from possync.models.tables import CrmState
from possync.models.tenants import TenantContext
from possync.tasks import jobs, serial
from possync.tasks.clients import crm_adapter_for, crm_bucket, shopify_client_for
from possync.tasks.runner import StepContext, StepFinished
from possync.worker.limiter import crm_windows
from possync.worker.locks import customer_locks
from possync.worker.runtime import limiter, redis_client
from possync.worker.settings import get_settings

CHECK_TTL = timedelta(hours=1)  # a field added in the CRM by hand is found within the hour
MISSING = "crm_missing"


class CrmRefusedError(FatalError):
    """The CRM refused the contact or possync's key: the failed list names the tenant and the field."""

    error_class = "crm_refused"


def refused(tenant: TenantContext, exc: AdapterError, adapter: Any) -> CrmRefusedError:
    field = adapter.failed_field(exc) or "contact"
    return CrmRefusedError(f"tenant {tenant.name}, field {field}: {exc}", vendor="", http_status=exc.http_status)


# --- the connect check (rule 39), cached per tenant ------------------------------------------------------
def crm_state(session: Any, tenant_id: int) -> CrmState:
    """The tenant's row, made on first use; two jobs making it at once end with one (ON CONFLICT DO NOTHING)."""
    row = session.get(CrmState, tenant_id, populate_existing=True)
    if row is None:
        insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
        session.execute(insert(CrmState).values(tenant_id=tenant_id, fields={}, missing=[], backfill_done=0)
                        .on_conflict_do_nothing(index_elements=["tenant_id"]))
        row = session.get_one(CrmState, tenant_id, populate_existing=True)
    return row


def connect(session: Any, tenant: TenantContext, adapter: Any, *, force: bool = False) -> tuple[Any, list[dict]]:
    """The CRM's schema and what it lacks: from the cache while fresh, else checked (and created) now."""
    row = crm_state(session, tenant.id)
    fresh = row.checked_at is not None and jobs.now() - _aware(row.checked_at) < CHECK_TTL
    if fresh and not force and not row.check_error:
        return adapter.schema_from_json(row.fields), list(row.missing)
    try:
        check = adapter.connect_check()
    except FatalError as exc:
        raise refused(tenant, exc, adapter) from exc
    row.fields, row.missing, row.check_error, row.checked_at = check.schema.to_json(), check.missing, None, jobs.now()
    session.commit()  # kept whatever the contact's own write does next: one check per tenant, not per job
    return check.schema, list(check.missing)


def forget_check(session: Any, tenant_id: int) -> None:
    """A field the cache named has vanished from the CRM: the next job checks again."""
    row = session.get(CrmState, tenant_id)
    if row is not None:
        row.checked_at = None


def _aware(value: Any) -> Any:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def missing_labels(missing: list[dict]) -> list[str]:
    return [f"{m['label']} ({m['type']})" for m in missing]


# --- the steps ---------------------------------------------------------------------------------------------
def crm_fetch_customer(ctx: StepContext) -> dict[str, Any]:
    """The customer fresh from Shopify: its order count, spend, state and consent as they are now."""
    context = ctx.job.context
    order = serial.order_from_json(context.get("order"))
    customer_id = order.customer.id if order and order.customer else context.get("customer_id")
    if not customer_id:
        raise StepFinished("no_customer")
    customer = shopify_client_for(ctx.tenant).get_customer(str(customer_id))
    if customer is None:
        raise FatalError(f"Shopify customer {customer_id} no longer exists")
    ctx.job.subject = customer.id
    return {"shopify_customer": serial.shopify_customer_to_json(customer)}


def contact_for(tenant: TenantContext, adapter: Any, customer: ShopifyCustomer, schema: Any,
                first_write: bool) -> dict[str, Any]:
    return adapter.contact_for(
        customer, schema, store_name=tenant.account_name, region=tenant.settings.default_phone_region,
        sms_subscribed_when_phone=bool(tenant.crm_config.get("sms_subscribed_when_phone")), first_write=first_write)


def crm_upsert_contact(ctx: StepContext) -> dict[str, Any]:
    """One upsert for a new or changed contact, none for an unchanged one (rule 45), under customer locks."""
    customer = serial.shopify_customer_from_json(ctx.job.context["shopify_customer"])
    adapter = crm_adapter_for(ctx.tenant)
    schema, missing = connect(ctx.session, ctx.tenant, adapter)
    noted = {MISSING: missing_labels(missing)}
    keys = [f"crm:{customer.id}", f"crm:{email_key(customer.customer.email) or ''}"]
    settings = get_settings()
    with customer_locks(redis_client(), settings.redis_key_prefix, ctx.tenant.name, keys):
        link = get_crm_link(ctx.session, ctx.tenant.id, customer.id)
        contact = contact_for(ctx.tenant, adapter, customer, schema, first_write=link is None)
        written = adapter.fingerprint(contact)
        if link is not None and link.written_fingerprint == written:
            raise StepFinished("unchanged", {"contact_id": link.contact_id, **noted})
        try:
            result = adapter.upsert_contact(contact)
        except FatalError as exc:
            if "custom field" in str(exc):
                forget_check(ctx.session, ctx.tenant.id)
                ctx.session.commit()
            raise refused(ctx.tenant, exc, adapter) from exc
        save_crm_link(ctx.session, ctx.tenant.id, customer.id, result.contact_id, written)
        ctx.job.outcome = "created" if result.created else "updated"
        ctx.record({"contact_id": result.contact_id, **noted})
        ctx.commit()  # the link is saved before the locks go
    return {}


STEP_FUNCTIONS = {"crm_fetch_customer": crm_fetch_customer, "crm_upsert_contact": crm_upsert_contact}


def left_this_hour(tenant_name: str, per_hour: int) -> int:
    """Requests left in the hour ending now of the tenant's CRM bucket (`possync status`, the estimate)."""
    return max(0, per_hour - limiter().window_used(crm_bucket(tenant_name), crm_windows(per_hour)[0]))


def progress(row: CrmState | None) -> dict[str, Any]:
    """What `possync status` shows of a tenant's backfill."""
    if row is None or row.backfill_status is None:
        return {"status": None, "done": 0, "total": None, "started_at": None, "finished_at": None, "error": None}
    return {"status": row.backfill_status, "done": row.backfill_done, "total": row.backfill_total,
            "started_at": _iso(row.backfill_started_at), "finished_at": _iso(row.backfill_finished_at),
            "error": row.backfill_error}


def _iso(value: Any) -> str | None:
    return value.isoformat() if value else None


def status_of(session: Any, tenant: Any) -> dict[str, Any] | None:
    """`possync status`'s `crm` of a tenant row: the connect check, the backfill, the budget this hour."""
    if not tenant.crm_kind:
        return None
    row = session.get(CrmState, tenant.id)
    per_hour = int((tenant.crm_config or {}).get("requests_per_hour") or 1000)
    spent: dict[str, Any] = {"requests_per_hour": per_hour, "left_this_hour": None, "cooldown_seconds": None}
    try:
        spent["left_this_hour"] = left_this_hour(tenant.name, per_hour)
        spent["cooldown_seconds"] = limiter().cooldown_left(crm_bucket(tenant.name))
    except Exception:
        pass
    return {"kind": tenant.crm_kind, "checked_at": _iso(row.checked_at) if row else None,
            "missing": missing_labels(list(row.missing)) if row else [],
            "check_error": row.check_error if row else None, "backfill": progress(row), "budget": spent}
