"""Privacy (SPEC rules 27-29): export what possync holds about a customer, erase it, erase a shop.

Erasure keeps only opaque ids needed for audit (job and event ids, statuses); payloads, job
contexts, index rows and links that carry personal data are deleted or emptied. A `customers/redact`
that follows a merge is told apart: the merged-away id's link already moved to the kept customer,
so only the merged-away id's own data is erased, and the kept customer's link stays.
"""

from __future__ import annotations

import json
import re
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from possync.models import links, pos_index
from possync.models.crm_links import drop_crm_links, get_crm_link
from possync.models.tables import (
    CrmLink,
    CustomerLink,
    InboundEvent,
    NearMatch,
    PollCursor,
    PosIndexEntry,
    ShipStationRead,
    ShipStationRecord,
    SyncAttempt,
    SyncJob,
)
from possync.tasks.shipstation import records as shipstation

REDACTED = "redacted"


def _events_about(session: Session, tenant_id: int, shopify_id: str, *, unreadable: bool) -> list[InboundEvent]:
    """Events whose jobs concern the customer, or whose body names its id.

    A body that never parsed (stored as `failed`: bad JSON, bad UTF-8, deep nesting) cannot be read for
    whose it is. With `unreadable`, such a body is taken when the id stands in it as a whole number:
    erasure errs towards erasing (the delivery could not be processed anyway). An export leaves it out,
    since it may be another customer's.
    """
    via_jobs = select(SyncJob.event_id).where(SyncJob.tenant_id == tenant_id, SyncJob.subject == shopify_id)
    events = {e.id: e for e in session.scalars(select(InboundEvent).where(InboundEvent.id.in_(via_jobs)))}
    needle = shopify_id.encode()
    whole_id = re.compile(rb"(?<![0-9])" + re.escape(needle) + rb"(?![0-9])")
    for event in session.scalars(select(InboundEvent).where(InboundEvent.tenant_id == tenant_id)):
        if event.body and needle in event.body and event.id not in events:
            try:
                if _mentions(json.loads(event.body), shopify_id):
                    events[event.id] = event
            except (ValueError, RecursionError):
                if unreadable and whole_id.search(event.body):
                    events[event.id] = event
    return list(events.values())


def _mentions(data: Any, shopify_id: str) -> bool:
    """True when a customer object (or a customer id field) in the payload is this customer."""
    if isinstance(data, dict):
        for key, value in data.items():
            if key in ("id", "customer_id") and str(value).rsplit("/", 1)[-1] == shopify_id and (
                key == "customer_id" or "email" in data or "first_name" in data
            ):
                return True
            if _mentions(value, shopify_id):
                return True
    elif isinstance(data, list):
        return any(_mentions(v, shopify_id) for v in data)
    return False


def export_customer(session: Session, tenant_id: int, shopify_id: str) -> dict[str, Any]:
    """Everything held about one Shopify customer (rule 28), as JSON-safe data."""
    link = links.get_link(session, tenant_id, shopify_id)
    index_rows = []
    if link is not None:
        index_rows = list(session.scalars(select(PosIndexEntry).where(
            PosIndexEntry.tenant_id == tenant_id, PosIndexEntry.pos_customer_id == link.pos_customer_id)))
    jobs = session.scalars(select(SyncJob).where(SyncJob.tenant_id == tenant_id, SyncJob.subject == shopify_id))
    events = _events_about(session, tenant_id, shopify_id, unreadable=False)
    crm_link = get_crm_link(session, tenant_id, shopify_id)
    return {
        "shopify_customer_id": shopify_id,
        "link": None if link is None else {"pos_customer_id": link.pos_customer_id, "pos_status": link.pos_status,
                                           "created_at": link.created_at.isoformat()},
        "pos_index": [{"pos_customer_id": r.pos_customer_id, "email_key": r.email_key, "phone_key": r.phone_key,
                       "status": r.status, "reading": r.reading} for r in index_rows],
        "sync_jobs": [{"id": j.id, "step": j.step, "status": j.status, "outcome": j.outcome, "context": j.context,
                       "last_error": j.last_error, "created_at": j.created_at.isoformat()} for j in jobs],
        "events": [{"id": e.id, "topic": e.topic, "received_at": e.received_at.isoformat(),
                    "body": _decode(e.body)} for e in events],
        "near_matches": [{"pos_customer_id": m.pos_customer_id, "direction": m.direction, "matched_on": m.matched_on,
                          "differs": m.differs, "decision": m.decision, "created_at": m.created_at.isoformat()}
                         for m in _near_matches_of(session, tenant_id, shopify_id)],
        # Rule 53: ShipStation's records of this customer as possync read them, and what they link to.
        "shipstation": [shipstation.describe(session, tenant_id, r) for r in
                        shipstation.about_customer(session, tenant_id, shopify_id,
                                                   link.pos_customer_id if link else None)],
        # Where possync wrote the customer beside the POS (rule 53): the CRM holds the merchant's record.
        "crm": None if crm_link is None else {"contact_id": crm_link.contact_id,
                                              "created_at": crm_link.created_at.isoformat(),
                                              "last_written_at": crm_link.updated_at.isoformat()},
    }


def _near_matches_of(session: Session, tenant_id: int, shopify_id: str) -> list[NearMatch]:
    return list(session.scalars(select(NearMatch).where(NearMatch.tenant_id == tenant_id,
                                                        NearMatch.shopify_customer_id == shopify_id)))


def _decode(body: bytes | None) -> Any:
    if body is None:
        return None
    try:
        return json.loads(body)
    except ValueError:
        return body.decode("utf-8", "replace")


def erase_customer(session: Session, tenant_id: int, shopify_id: str, *, merged: bool = False) -> dict[str, int]:
    """Delete or anonymise what possync holds about one customer (rule 27). Returns counts for the audit."""
    counts = {"events": 0, "jobs": 0, "index": 0, "links": 0, "shipstation": 0, "crm_links": 0}
    for event in _events_about(session, tenant_id, shopify_id, unreadable=True):
        event.body = None
        event.headers = {k: v for k, v in event.headers.items() if k.lower() in ("x-shopify-topic",)}
        event.error = REDACTED if event.error else None
        counts["events"] += 1
    for job in session.scalars(select(SyncJob).where(SyncJob.tenant_id == tenant_id, SyncJob.subject == shopify_id)):
        job.context = {"redacted": True}
        job.last_error = REDACTED if job.last_error else None
        # Attempt errors quote vendor answers, which may carry the customer's details.
        session.execute(update(SyncAttempt).where(SyncAttempt.job_id == job.id, SyncAttempt.error.is_not(None))
                        .values(error=REDACTED))
        counts["jobs"] += 1
    for near in _near_matches_of(session, tenant_id, shopify_id):
        session.delete(near)
    # The CRM contact carries this id as its external id even after a merge: possync's copy goes (rule 53).
    counts["crm_links"] = drop_crm_links(session, tenant_id, shopify_id)
    if not merged:
        link = links.get_link(session, tenant_id, shopify_id)
        held = shipstation.about_customer(session, tenant_id, shopify_id, link.pos_customer_id if link else None)
        counts["shipstation"] = shipstation.forget(session, tenant_id, [r.customer_id for r in held])
        if link is not None:
            counts["index"] = pos_index.forget(session, tenant_id, [link.pos_customer_id]) or 0
            session.delete(link)
            counts["links"] = 1
    return counts


def redact_shop(session: Session, tenant_id: int) -> None:
    """Delete the tenant's data (rule 29); the tenant row itself stays until an operator removes it."""
    for table in (SyncJob, InboundEvent, CustomerLink, PosIndexEntry, PollCursor, NearMatch, CrmLink, ShipStationRecord,
                  ShipStationRead):
        session.execute(delete(table).where(table.tenant_id == tenant_id))
