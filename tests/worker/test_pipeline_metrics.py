"""`/metrics` job and event counts come from the maintained counts: right, and kept past retention."""

from __future__ import annotations

from datetime import timedelta

from prometheus_client import CollectorRegistry, generate_latest
from sqlalchemy import update
from sqlalchemy.orm import Session

from possync.models.db import get_engine
from possync.models.tables import EventStatus, JobStatus, Tenant
from possync.tasks import jobs
from possync.tasks.retention import prune
from possync.worker.pipeline_metrics import PipelineCollector
from tests.models.test_counts import make_tenant
from tests.tasks.test_retention import add_event, add_job


def scrape(db_url: str) -> str:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(PipelineCollector(db_url))
    return generate_latest(registry).decode()


def test_counts_by_tenant_and_status_survive_a_prune(session: Session, db_url: str) -> None:
    tenant = make_tenant(session, "acme")
    make_tenant(session, "quiet")
    old = jobs.now() - timedelta(days=90)
    for n in range(3):
        add_job(session, tenant, f"s{n}", JobStatus.SUCCEEDED.value, old, old)
    add_job(session, tenant, "f", JobStatus.FAILED.value, old, old)
    add_event(session, tenant, "e", EventStatus.PROCESSED.value, old)
    session.commit()
    before = scrape(db_url)
    assert ('possync_sync_jobs{direction="shopify_to_pos",outcome="",pos="heartland",status="succeeded",'
            'tenant="acme"} 3.0') in before
    assert 'possync_failed_list_size{tenant="acme"} 1.0' in before
    assert 'possync_failed_list_size{tenant="quiet"} 0.0' in before
    assert 'possync_inbound_events{status="processed",tenant="acme"} 1.0' in before
    result = prune(get_engine(db_url), 30)
    assert (result.jobs, result.events) == (3, 1)
    assert scrape(db_url) == before


def test_queue_ready_counts_the_fair_lines_that_keda_scales_on(db_url: str, activate_env, redis_server_url: str,  # type: ignore[no-untyped-def]
                                                               redis_prefix: str) -> None:
    """The broker's list holds at most POSSYNC_QUEUE_DEPTH messages: the backlog is in the fair lines."""
    from possync.tasks.operations import queue_counts
    from possync.tasks.pipeline import TASKS
    from possync.worker.dispatcher import send

    activate_env(POSSYNC_REDIS_URL=redis_server_url, POSSYNC_REDIS_KEY_PREFIX=redis_prefix, POSSYNC_QUEUE_DEPTH="3")
    queue = "pos.heartland"
    for job in range(12):  # three reach the broker, seven wait in line, two wait for their due time
        send(TASKS["fetch_customer"], job, {"route": queue, "tenant": "1"}, queue=queue, tenant="1",
             countdown=60 if job >= 10 else 0)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(PipelineCollector(db_url, queue_counts))
    text = generate_latest(registry).decode()
    assert f'possync_queue_ready{{queue="{queue}"}} 10.0' in text
    assert f'possync_queue_depth{{queue="{queue}"}} 15.0' in text  # the three dispatched count as running too
    assert 'possync_queue_ready{queue="pos.lightspeed_r"} 0.0' in text


def test_a_tenant_without_a_pos_is_scraped_with_an_empty_pos_label(session: Session, db_url: str) -> None:
    # A CRM-only tenant (pos_kind None): a None label value made the whole scrape fail (found by mypy).
    tenant = make_tenant(session, "crm-only")
    session.execute(update(Tenant).where(Tenant.id == tenant).values(pos_kind=None))
    now = jobs.now()
    add_job(session, tenant, "s", JobStatus.SUCCEEDED.value, now, now)
    session.commit()
    assert ('possync_sync_jobs{direction="shopify_to_pos",outcome="",pos="",status="succeeded",'
            'tenant="crm-only"} 1.0') in scrape(db_url)
