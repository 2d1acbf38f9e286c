"""Intake (tasks/intake.py): a stored delivery becomes jobs, or is done inline, or is recorded as failed.

Bodies are Shopify's own documented samples (tests/fixtures/shopify); the database is real PostgreSQL.
"""

from __future__ import annotations

import json
import uuid

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from possync.models.tables import EventStatus, InboundEvent, PosKind, SyncJob
from possync.models.tenant_file import validate_tenant_data
from possync.models.tenants import apply_tenant
from possync.tasks import intake
from tests.fixtures import shopify_body
from tests.tasks.test_runner import TENANT


@pytest.fixture
def tenant_id(session: Session, secret_key: str, activate_env, db_url: str) -> int:  # type: ignore[no-untyped-def]
    activate_env(POSSYNC_DATABASE_URL=db_url)
    tenant, _ = apply_tenant(session, validate_tenant_data(TENANT), secret_key)
    session.commit()
    return tenant.id


def stored(session: Session, tenant_id: int, topic: str, body: bytes | None) -> int:
    event = InboundEvent(tenant_id=tenant_id, webhook_id=uuid.uuid4().hex, topic=topic, body=body,
                         status=EventStatus.ENQUEUED.value)
    session.add(event)
    session.commit()
    return event.id


def handled(session: Session, event_id: int) -> list[intake.JobStart]:
    starts = intake.handle_event(session, event_id)
    session.commit()
    return starts


def jobs_of(session: Session) -> list[SyncJob]:
    session.expire_all()
    return list(session.scalars(select(SyncJob).order_by(SyncJob.id)))


def event(session: Session, event_id: int) -> InboundEvent:
    session.expire_all()
    return session.get_one(InboundEvent, event_id)


def test_an_order_with_a_customer_makes_one_job_on_its_pos_queue(session: Session, tenant_id: int) -> None:
    event_id = stored(session, tenant_id, "orders/create", shopify_body("orders/create"))
    [start] = handled(session, event_id)
    [job] = jobs_of(session)
    assert start == intake.JobStart(job.id, PosKind.LIGHTSPEED_R.queue)
    assert job.subject == "115310627314723954" and job.event_id == event_id and job.step == "fetch_customer"
    assert job.context["topic"] == "orders/create" and job.context["order"]["id"] == "820982911946154508"
    assert job.context["order"]["customer"]["id"] == "115310627314723954"
    assert event(session, event_id).status == EventStatus.PROCESSED.value
    assert handled(session, event_id) == [] and len(jobs_of(session)) == 1  # a redelivered message: no second job


def test_a_refund_makes_a_job_that_reads_its_order(session: Session, tenant_id: int) -> None:
    event_id = stored(session, tenant_id, "refunds/create", shopify_body("refunds/create"))
    [start] = handled(session, event_id)
    [job] = jobs_of(session)
    assert start.job_id == job.id and job.context == {"topic": "refunds/create", "order_id": "820982911946154508"}
    assert job.subject is None  # known once the order is read


@pytest.mark.parametrize("topic", ["customers/update", "customers_email_marketing_consent/update"])
def test_a_customer_or_consent_topic_makes_a_job_for_that_customer(session: Session, tenant_id: int,
                                                                  topic: str) -> None:
    event_id = stored(session, tenant_id, topic, shopify_body(topic))
    [start] = handled(session, event_id)
    [job] = jobs_of(session)
    assert start.job_id == job.id and job.subject == "706405506930370084"
    assert job.context == {"topic": topic, "customer_id": "706405506930370084"}


def test_a_redact_request_is_done_inline_and_its_body_dropped(session: Session, tenant_id: int) -> None:
    event_id = stored(session, tenant_id, "customers/redact", shopify_body("customers/redact"))
    assert handled(session, event_id) == []
    done = event(session, event_id)
    assert done.status == EventStatus.PROCESSED.value and done.body is None  # the request names the customer
    assert jobs_of(session) == []


@pytest.mark.parametrize(("body", "reason"), [
    (b"{not json", "body is not valid JSON"),
    (b"[]", "body must be a JSON object"),
    (json.dumps({"email": "jane@example.com"}).encode(), "id: Missing data for required field"),
])
def test_a_malformed_body_is_recorded_as_failed_with_its_reason_and_nothing_raised(
        session: Session, tenant_id: int, body: bytes, reason: str) -> None:
    event_id = stored(session, tenant_id, "orders/create", body)
    intake.process_event(event_id)  # the task itself, as the worker runs it: it must not raise
    failed = event(session, event_id)
    assert failed.status == EventStatus.FAILED.value and reason in failed.error
    assert session.scalar(select(func.count()).select_from(SyncJob)) == 0


def test_a_topic_possync_does_not_act_on_is_ignored(session: Session, tenant_id: int) -> None:
    event_id = stored(session, tenant_id, "products/create", b"{}")
    assert handled(session, event_id) == []
    assert event(session, event_id).status == EventStatus.IGNORED.value and jobs_of(session) == []


def test_an_x_series_hint_for_a_customer_whose_reread_waits_makes_no_second_job(session: Session,
                                                                                tenant_id: int) -> None:
    from urllib.parse import urlencode

    customer = str(uuid.uuid4())

    def hint(note: str) -> int:
        body = urlencode({"type": "customer.update", "payload": json.dumps({"id": customer, "note": note})})
        event = InboundEvent(tenant_id=tenant_id, source="lightspeed-x", webhook_id=uuid.uuid4().hex,
                             topic="customer.update", body=body.encode(), status=EventStatus.ENQUEUED.value)
        session.add(event)
        session.commit()
        return event.id

    first = handled(session, hint("a"))
    assert len(first) == 1
    second = hint("b")
    assert handled(session, second) == []  # the first job has not read the customer yet
    assert event(session, second).status == EventStatus.PROCESSED.value
    [job] = jobs_of(session)
    job.status = "running"  # now reading: a later change needs a read of its own
    session.commit()
    assert len(handled(session, hint("c"))) == 1
    assert [j.subject for j in jobs_of(session)] == [customer, customer]


def test_rule_13_a_completed_merge_moves_the_pos_link_and_the_crm_contact(session: Session, tenant_id: int) -> None:
    from possync.adapters.shopify.webhooks import merge_payload
    from possync.models.crm_links import get_crm_link, save_crm_link
    from possync.models.links import get_link, save_link

    save_link(session, tenant_id, "1001", "55")
    save_crm_link(session, tenant_id, "1001", "c1", "f1")
    session.commit()
    event_id = stored(session, tenant_id, "customers/merge", json.dumps(merge_payload(2002, 1001)).encode())
    assert handled(session, event_id) == []
    session.expire_all()
    assert get_link(session, tenant_id, "1001") is None and get_link(session, tenant_id, "2002").pos_customer_id == "55"
    assert get_crm_link(session, tenant_id, "1001") is None
    assert get_crm_link(session, tenant_id, "2002").contact_id == "c1"


def test_a_tenants_queued_intake_does_not_delay_anothers(db_url: str, redis_server_url: str, redis_prefix: str,  # type: ignore[no-untyped-def]
                                                         redis_client, activate_env) -> None:
    """Intake messages wait in their tenant's fair line: B's webhook, sent after A's backlog, is next but few."""
    import base64

    from possync.worker.dispatcher import queue_length
    from possync.worker.routing import INTAKE_QUEUE

    activate_env(POSSYNC_DATABASE_URL=db_url, POSSYNC_REDIS_URL=redis_server_url, POSSYNC_REDIS_KEY_PREFIX=redis_prefix,
                 POSSYNC_QUEUE_DEPTH="3")
    for event_id in range(1, 21):  # tenant A's backlog (ids with no row: processing them is a no-op)
        intake.enqueue_event(event_id, 1)
    intake.enqueue_event(100, 2)  # then one webhook of tenant B
    intake.enqueue_event(200)  # and one whose tenant was not known: its own line
    order = []
    while (raw := redis_client.rpop(redis_prefix + INTAKE_QUEUE)) is not None:  # a worker, one message at a time
        [event_id], kwargs, _ = json.loads(base64.b64decode(json.loads(raw)["body"]))
        order.append(event_id)
        intake.process_event(event_id, **kwargs)  # claims its ticket; finishing it publishes the next turn
    assert sorted(order) == [*range(1, 21), 100, 200]
    assert order.index(100) <= 4 and order.index(200) <= 5  # the broker's 3 of A's, then one line at a time
    assert queue_length(INTAKE_QUEUE) == 0  # every ticket finished
