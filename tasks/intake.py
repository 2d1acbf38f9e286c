"""Turning a stored webhook delivery into sync jobs (or doing the small things inline).

The receiver stores the delivery and enqueues its id; `process_event` parses it, creates the jobs
in the same transaction that marks the event processed, and only after that commit starts their
chains. A crash anywhere leaves the event or the jobs stored, and the sweeper picks them up.
Intake messages wait in their tenant's fair line of the intake queue, as sync steps do in theirs
(`possync.worker.dispatcher`), so one tenant's flood of webhooks does not hold up another's.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qs

from sqlalchemy import select
from sqlalchemy.orm import Session

from possync.adapters.lightspeed_x.webhook import WebhookPayloadError, parse_webhook
from possync.models import crm_links, links
from possync.models.shopify_payloads import (
    ConsentPayload,
    CustomerPayload,
    MergePayload,
    OrderPayload,
    ParsedPayload,
    PayloadError,
    PrivacyPayload,
    RefundPayload,
    ShopRedactPayload,
    parse_payload,
)
from possync.models.tables import EventStatus, InboundEvent, JobStatus, SyncJob, Tenant
from possync.tasks import destinations, jobs, privacy, serial
from possync.tasks.sending import enqueue_job
from possync.worker.celery_app import app
from possync.worker.dispatcher import fair_queues, finish, send
from possync.worker.fairqueue import RENEW_EVERY_SECONDS
from possync.worker.heartbeat import heartbeat
from possync.worker.logging import bind_job, get_logger
from possync.worker.routing import INTAKE_QUEUE, POLL_QUEUE
from possync.worker.runtime import TRANSIENT_ERRORS, db_session

log = get_logger("possync.intake")

SYNC_TOPICS = destinations.SYNC_TOPICS
UNKNOWN_TENANT_LINE = "unknown"  # the line of an event enqueued without its tenant: still processed, in turn


@dataclass(frozen=True)
class JobStart:
    job_id: int
    queue: str


def enqueue_event(event_id: int, tenant_id: int | None = None) -> None:
    """Called by the receiver after its commit (and by the sweeper), in the event's tenant's line of the
    intake queue; raises when the broker is unreachable."""
    line = str(tenant_id) if tenant_id is not None else UNKNOWN_TENANT_LINE
    send(process_event, event_id, {}, queue=INTAKE_QUEUE, tenant=line)


def queue_for_tenant(tenant: Tenant, direction: str = "shopify_to_pos") -> str:
    """The queue of a tenant's sync steps for one destination: its own when dedicated, else the kind's."""
    return destinations.BY_DIRECTION[direction].queue(tenant)


def _job_for(session: Session, event: InboundEvent, payload: ParsedPayload,
             direction: str = "shopify_to_pos") -> SyncJob | None:
    context: dict[str, object] = {"topic": payload.topic}
    if isinstance(payload, OrderPayload):
        context["order"] = serial.order_to_json(payload.order)
    elif isinstance(payload, RefundPayload):
        context["order_id"] = payload.order_id
    elif isinstance(payload, CustomerPayload | ConsentPayload):
        context["customer_id"] = payload.customer_id
    return jobs.new_job(session, tenant_id=event.tenant_id, direction=direction, subject=payload.customer_id,
                        event_id=event.id, context=context)


def handle_event(session: Session, event_id: int) -> list[JobStart]:
    """Process one stored event; returns the jobs whose chains to start after the commit."""
    event = session.get(InboundEvent, event_id)
    if event is None or event.status not in (EventStatus.RECEIVED.value, EventStatus.ENQUEUED.value):
        return []
    bind_job(event_id=event.id, topic=event.topic)
    existing = session.scalars(select(SyncJob).where(SyncJob.event_id == event.id)).all()
    if existing:  # a redelivered message after a crash between commit and ack
        event.status = EventStatus.PROCESSED.value
        return [JobStart(j.id, queue_for_tenant(session.get_one(Tenant, j.tenant_id), j.direction))
                for j in existing if j.status == JobStatus.PENDING.value]
    if event.source == "lightspeed-x":
        return _lightspeed_x_event(session, event)
    try:
        payload = parse_payload(event.topic, event.body or b"")
    except PayloadError as exc:
        event.status, event.error = EventStatus.FAILED.value, str(exc)
        return []
    except KeyError:
        event.status = EventStatus.IGNORED.value
        return []
    tenant = session.get_one(Tenant, event.tenant_id)
    starts: list[JobStart] = []
    if payload.topic in SYNC_TOPICS:
        for destination in destinations.destinations_for(tenant, payload.topic):  # one job per destination
            job = _job_for(session, event, payload, destination.direction)
            if job is not None:
                starts.append(JobStart(job.id, destination.queue(tenant)))
    elif isinstance(payload, MergePayload):
        if payload.succeeded:
            links.move_links(session, tenant.id, payload.deleted_id, payload.kept_id)
            crm_links.move_crm_link(session, tenant.id, payload.deleted_id, payload.kept_id)
    elif isinstance(payload, PrivacyPayload) and payload.topic == "customers/redact" and payload.customer_id:
        merged = _was_merged_away(session, tenant.id, payload.customer_id)
        privacy.erase_customer(session, tenant.id, payload.customer_id, merged=merged)
        event.body = None  # the redact request itself names the customer
    elif isinstance(payload, ShopRedactPayload):
        privacy.redact_shop(session, tenant.id)
        return []  # the event row itself is gone with the tenant's data
    event.status = EventStatus.PROCESSED.value
    event.processed_at = jobs.now()
    return starts


def _lightspeed_x_event(session: Session, event: InboundEvent) -> list[JobStart]:
    """An X-Series `customer.update`: a push job that re-reads the customer (the body is only a hint)."""
    form = {k: v[0] for k, v in parse_qs((event.body or b"").decode("utf-8", "replace")).items()}
    try:
        pos_id = parse_webhook(form)
    except WebhookPayloadError as exc:
        event.status, event.error = EventStatus.FAILED.value, str(exc)
        return []
    event.status, event.processed_at = EventStatus.PROCESSED.value, jobs.now()
    if _waiting_reread(session, event.tenant_id, pos_id):
        return []  # that job has not read the customer yet: its read will see this change too
    job = jobs.new_job(session, tenant_id=event.tenant_id, direction="pos_to_shopify", subject=pos_id,
                       event_id=event.id, context={"pos_customer_id": pos_id})
    return [JobStart(job.id, POLL_QUEUE)]


def _waiting_reread(session: Session, tenant_id: int, pos_id: str) -> bool:
    """A push of this POS customer that is still pending (not yet running, so not yet read)."""
    return session.scalar(select(SyncJob.id).where(
        SyncJob.tenant_id == tenant_id, SyncJob.subject == pos_id, SyncJob.direction == "pos_to_shopify",
        SyncJob.status == JobStatus.PENDING.value).limit(1)) is not None


def _was_merged_away(session: Session, tenant_id: int, shopify_id: str) -> bool:
    """True when a completed `customers/merge` named this id as the deleted side (rule 27 vs rule 13)."""
    merges = session.scalars(select(InboundEvent).where(
        InboundEvent.tenant_id == tenant_id, InboundEvent.topic == "customers/merge",
        InboundEvent.status == EventStatus.PROCESSED.value))
    for event in merges:
        try:
            payload = parse_payload(event.topic, event.body or b"")
        except PayloadError:
            continue
        if isinstance(payload, MergePayload) and payload.deleted_id == shopify_id:
            return True
    return False


def start_jobs(starts: list[JobStart]) -> None:
    if not starts:
        return
    with db_session() as session:
        for start in starts:
            job = session.get(SyncJob, start.job_id)
            if job is not None:
                enqueue_job(job, start.queue)


def fail_event(event_id: int, exc: BaseException) -> None:
    """Store why an event could not be processed, so it is on the failed list instead of coming back."""
    reason = f"internal error while processing this event ({type(exc).__name__}); see the worker log"
    with db_session() as session:
        event = session.get(InboundEvent, event_id)
        if event is not None and event.status in (EventStatus.RECEIVED.value, EventStatus.ENQUEUED.value):
            event.status, event.error = EventStatus.FAILED.value, reason
    log.error("event_failed", event_id=event_id, error_class=type(exc).__name__, exc_info=exc)


@app.task(name="possync.intake.process_event", bind=True, max_retries=None)
def process_event(self, event_id: int, ticket: str | None = None) -> None:
    """Claim the message's ticket and finish it like a sync step's (`possync.tasks.pipeline.run`)."""
    fair = fair_queues() if ticket else None
    if fair is None or ticket is None:  # sent straight to the broker (embedded mode)
        _process_event(event_id)
        return
    if not fair.claim(INTAKE_QUEUE, ticket):
        log.info("stale message dropped: its event was sent again after its lease lapsed", event_id=event_id)
        return
    # A transient error leaves the ticket to lapse: the dispatcher puts the event back in line.
    with heartbeat(lambda: fair.claim(INTAKE_QUEUE, ticket), RENEW_EVERY_SECONDS, "event ticket"):
        _process_event(event_id)
    finish(INTAKE_QUEUE, ticket, fair)


def _process_event(event_id: int) -> None:
    try:
        with db_session() as session:
            starts = handle_event(session, event_id)
    except TRANSIENT_ERRORS:
        raise  # the event stays `enqueued`; the sweeper sends it again once the database or Redis is back
    except Exception as exc:  # this event itself cannot be processed (tests/resilience/test_receiver_fuzz.py)
        fail_event(event_id, exc)
        return
    start_jobs(starts)
