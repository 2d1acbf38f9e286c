"""A customer's story: find them by email, phone (any format), Shopify id or POS id, then every delivery,
job, step attempt, link, echo, consent decision, near match and operator action about them, in time order."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, func, literal_column, or_, select
from sqlalchemy.orm import Session

from possync.models.crm_links import get_crm_link
from possync.models.normalise import email_key, phone_key
from possync.models.tables import CustomerLink, InboundEvent, NearMatch, PosIndexEntry, SyncAttempt, SyncJob, Tenant
from possync.tasks.console import audit
from possync.tasks.shipstation import records as shipstation

MAX_RESULTS = 50
MAX_JOBS = 200  # a customer's most recent jobs on one page; older ones are rare and in `possync failed show`


@dataclass(frozen=True)
class Found:
    """One Shopify customer of one tenant (or a POS customer possync has not linked yet: `shopify_id` None)."""

    tenant_id: int
    tenant: str
    shopify_id: str | None
    pos_id: str | None
    via: str


def _shopify_field(session: Session, name: str) -> ColumnElement[Any]:
    """The Shopify customer a job read, field `name`: the same expression migration 0011 indexes."""
    if session.get_bind().dialect.name == "postgresql":
        return literal_column(f"(sync_jobs.context #>> '{{shopify_customer,customer,{name}}}')")
    return func.json_extract(SyncJob.context, f"$.shopify_customer.customer.{name}")


def _phone_forms(query: str, regions: set[str]) -> tuple[set[str], set[str]]:
    """The POS-index keys of `query` in each tenant's phone region, and the E.164 forms Shopify stores it in."""
    keys = {key for region in regions if (key := phone_key(query, region))}
    e164 = {f"+1{key}" if len(key) == 10 and key.isdigit() else key for key in keys}
    return keys, {form for form in e164 if form.startswith("+")}


def search(session: Session, query: str) -> list[Found]:
    """Every customer `query` names, as any of its kinds: an email, a phone, a Shopify id or a POS id."""
    query = query.strip().rsplit("/", 1)[-1] if query.strip().startswith("gid://") else query.strip()
    if not query:
        return []
    tenants = {t.id: t for t in session.scalars(select(Tenant))}
    found: dict[tuple[int, str | None, str | None], Found] = {}

    def add(tenant_id: int, shopify_id: str | None, pos_id: str | None, via: str) -> None:
        key = (tenant_id, shopify_id, None if shopify_id else pos_id)
        if key not in found and len(found) < MAX_RESULTS:
            found[key] = Found(tenant_id, tenants[tenant_id].name, shopify_id, pos_id, via)

    def add_pos(tenant_id: int, pos_id: str, via: str) -> None:
        links = session.scalars(select(CustomerLink).where(CustomerLink.tenant_id == tenant_id,
                                                           CustomerLink.pos_customer_id == pos_id)).all()
        for link in links:
            add(tenant_id, link.shopify_customer_id, pos_id, via)
        if not links:
            add(tenant_id, None, pos_id, via)

    def add_jobs(condition: ColumnElement[Any], via: str) -> None:
        rows = session.execute(select(SyncJob.tenant_id, SyncJob.subject).where(
            condition, SyncJob.direction == "shopify_to_pos", SyncJob.subject.is_not(None))
            .group_by(SyncJob.tenant_id, SyncJob.subject).limit(MAX_RESULTS))
        for tenant_id, subject in rows:
            add(tenant_id, subject, _pos_of(session, tenant_id, subject), via)

    if (email := email_key(query)) is not None:
        add_jobs(func.lower(_shopify_field(session, "email")) == email, "email")
        for tenant_id, pos_id in session.execute(select(PosIndexEntry.tenant_id, PosIndexEntry.pos_customer_id)
                                                 .where(PosIndexEntry.tenant_id.in_(tenants),
                                                        PosIndexEntry.email_key == email).limit(MAX_RESULTS)):
            add_pos(tenant_id, pos_id, "email")
        return list(found.values())
    add_jobs(SyncJob.subject == query, "Shopify id")
    # Per tenant (tenant_id IN ...): the links' unique index leads with the tenant.
    for link in session.scalars(select(CustomerLink).where(CustomerLink.tenant_id.in_(tenants),
                                                           CustomerLink.shopify_customer_id == query)):
        add(link.tenant_id, link.shopify_customer_id, link.pos_customer_id, "Shopify id")
    for tenant_id, pos_id in session.execute(select(CustomerLink.tenant_id, CustomerLink.pos_customer_id)
                                             .where(CustomerLink.pos_customer_id == query)):
        add_pos(tenant_id, pos_id, "POS id")
    for tenant_id in session.scalars(select(PosIndexEntry.tenant_id).where(
            PosIndexEntry.tenant_id.in_(tenants), PosIndexEntry.pos_customer_id == query)):
        add_pos(tenant_id, query, "POS id")
    regions = {str((t.settings or {}).get("default_phone_region") or "US") for t in tenants.values()}
    keys, e164 = _phone_forms(query, regions)
    if e164:
        add_jobs(_shopify_field(session, "phone").in_(sorted(e164)), "phone")
    if keys:
        for tenant_id, pos_id in session.execute(select(PosIndexEntry.tenant_id, PosIndexEntry.pos_customer_id)
                                                 .where(PosIndexEntry.tenant_id.in_(tenants),
                                                        PosIndexEntry.phone_key.in_(sorted(keys))).limit(MAX_RESULTS)):
            add_pos(tenant_id, pos_id, "phone")
    return list(found.values())


def _pos_of(session: Session, tenant_id: int, shopify_id: str | None) -> str | None:
    return session.scalar(select(CustomerLink.pos_customer_id).where(
        CustomerLink.tenant_id == tenant_id, CustomerLink.shopify_customer_id == shopify_id))


@dataclass
class Entry:
    at: datetime
    kind: str  # delivery / job / attempt / link / echo / consent / near_match / operator
    title: str
    detail: str = ""
    job_id: int | None = None
    status: str | None = None


@dataclass
class Story:
    tenant: Tenant
    shopify_id: str | None
    pos_ids: list[str]
    customer: dict[str, Any] | None  # the newest Shopify customer a job read (masked by the view unless revealed)
    entries: list[Entry] = field(default_factory=list)
    failed_jobs: list[int] = field(default_factory=list)
    links: list[CustomerLink] = field(default_factory=list)


def _aware(value: datetime | None) -> datetime:
    if value is None:
        return datetime.min.replace(tzinfo=UTC)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def story(session: Session, tenant_id: int, shopify_id: str | None, pos_id: str | None = None) -> Story:
    """Everything possync holds about one customer of one tenant, oldest first."""
    tenant = session.get_one(Tenant, tenant_id)
    links = list(session.scalars(select(CustomerLink).where(
        CustomerLink.tenant_id == tenant_id,
        or_(CustomerLink.shopify_customer_id == shopify_id, CustomerLink.pos_customer_id == pos_id)
        if shopify_id and pos_id else
        (CustomerLink.shopify_customer_id == shopify_id) if shopify_id else (CustomerLink.pos_customer_id == pos_id))))
    pos_ids = sorted({link.pos_customer_id for link in links} | ({pos_id} if pos_id else set()))
    subjects = [s for s in [shopify_id, *pos_ids] if s]
    jobs = list(session.scalars(select(SyncJob).where(SyncJob.tenant_id == tenant_id, SyncJob.subject.in_(subjects))
                                .order_by(SyncJob.id.desc()).limit(MAX_JOBS)))[::-1]
    result = Story(tenant, shopify_id, pos_ids, None, links=links)
    entries = result.entries
    events = {e.id: e for e in session.scalars(select(InboundEvent).where(
        InboundEvent.id.in_([j.event_id for j in jobs if j.event_id])))}
    for event in events.values():
        said = f"webhook {event.webhook_id}, {event.status}" + (f": {event.error}" if event.error else "")
        entries.append(Entry(event.received_at, "delivery", f"{event.source} webhook {event.topic}", said,
                             status=event.status))
    for job in jobs:
        entries.extend(_job_entries(job))
        if job.status == "failed":
            result.failed_jobs.append(job.id)
        customer = (job.context or {}).get("shopify_customer")
        if customer:
            result.customer = customer.get("customer")
    attempts = session.scalars(select(SyncAttempt).where(SyncAttempt.job_id.in_([j.id for j in jobs]))
                               .order_by(SyncAttempt.started_at, SyncAttempt.id))
    for a in attempts:
        http = f"HTTP {a.http_status}" if a.http_status else "HTTP -"
        latency = f"{a.latency_ms:.1f} ms" if a.latency_ms is not None else "-"
        entries.append(Entry(a.started_at, "attempt", f"{a.step}: {a.outcome}",
                             f"{http}, {latency}" + (f", {a.error}" if a.error else ""), a.job_id, a.outcome))
    for link in links:
        entries.append(Entry(link.created_at, "link", f"linked Shopify {link.shopify_customer_id} to POS "
                             f"{link.pos_customer_id}", f"now {link.pos_status}"
                             + (", contradicted (rule 10)" if link.contradicted else "")))
        if link.updated_at and _aware(link.updated_at) > _aware(link.created_at):
            entries.append(Entry(link.updated_at, "link", "link last changed", f"POS {link.pos_customer_id}, "
                                 f"{link.pos_status}"))
    if shopify_id:
        for near in session.scalars(select(NearMatch).where(NearMatch.tenant_id == tenant_id,
                                                            NearMatch.shopify_customer_id == shopify_id)):
            entries.append(Entry(near.created_at, "near_match", f"near match: POS {near.pos_customer_id}",
                                 f"{near.matched_on} matched, {near.differs} differed; decided {near.decision}",
                                 near.job_id))
        crm_link = get_crm_link(session, tenant_id, shopify_id)
        if crm_link is not None:  # the CRM destination (rule 45): the contact possync writes to
            entries.append(Entry(crm_link.created_at, "link", f"linked to CRM contact {crm_link.contact_id}",
                                 f"last written {crm_link.updated_at:%Y-%m-%d %H:%M:%S}"))
        pos_customer = pos_ids[0] if len(pos_ids) == 1 else None
        for record in shipstation.about_customer(session, tenant_id, shopify_id, pos_customer):  # rule 46
            entries.append(Entry(record.read_at, "link", f"ShipStation customer {record.customer_id}",
                                 "store-imported" if record.store_imported else "manual"))
        for action in audit.for_customer(session, tenant_id, shopify_id):
            entries.append(Entry(action.at, "operator", f"{action.actor}: {action.action}",
                                 ", ".join(f"{k} {v}" for k, v in sorted(action.detail.items()))))
    entries.sort(key=lambda e: _aware(e.at))
    return result


def _job_entries(job: SyncJob) -> list[Entry]:
    context = job.context or {}
    source = context.get("topic") or job.direction
    out = [Entry(job.created_at, "job", f"job {job.id} ({job.direction.replace('_', ' ')})", f"from {source}",
                 job.id, job.status)]
    end = job.finished_at or job.updated_at
    if job.outcome == "echo":
        out.append(Entry(end, "echo", f"job {job.id}: echo of possync's own write", "nothing sent (rule 5)", job.id))
    elif job.status == "failed":
        out.append(Entry(end, "job", f"job {job.id} failed at {job.step}",
                         f"{job.last_error_class}: {job.last_error}", job.id, job.status))
    elif job.status == "succeeded":
        out.append(Entry(end, "job", f"job {job.id} {job.outcome or 'done'}",
                         f"POS {context.get('pos_id')}" if context.get("pos_id") else "", job.id, job.status))
    if context.get("consent_written"):
        out.append(Entry(end, "consent", f"job {job.id}: marketing consent written",
                         ", ".join(map(str, context["consent_written"])), job.id))
    if job.ambiguous:
        out.append(Entry(end, "job", f"job {job.id}: ambiguous match",
                         "candidates " + ", ".join(map(str, context.get("candidates") or [])), job.id))
    return out
