"""The sweeper finds what was stored but never handed on, and leaves alone what is merely waiting."""

from __future__ import annotations

from datetime import timedelta

import pytest

from possync.models.tables import EventStatus, InboundEvent, JobStatus
from possync.models.tenant_file import validate_tenant_data
from possync.models.tenants import apply_tenant
from possync.tasks import jobs, sweeper

TENANT = {"name": "acme", "account_name": "acmestore",
          "shopify": {"shop_domain": "acme.myshopify.com", "access_token": "t", "client_secret": "s"},
          "pos": {"kind": "heartland", "subdomain": "acme", "access_token": "t"}}


@pytest.fixture
def tenant_id(session, secret_key: str, activate_env, db_url: str) -> int:  # type: ignore[no-untyped-def]
    activate_env(POSSYNC_DATABASE_URL=db_url)
    tenant, _ = apply_tenant(session, validate_tenant_data(TENANT), secret_key)
    session.commit()
    return tenant.id


def test_events_never_enqueued_are_enqueued_again(session, tenant_id: int, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    sent: list[tuple[int, int | None]] = []  # (event id, tenant id): the tenant picks the event's fair line
    monkeypatch.setattr(sweeper, "enqueue_event", lambda *args: sent.append(args))
    old = InboundEvent(tenant_id=tenant_id, webhook_id="old", topic="customers/update", body=b"{}",
                       received_at=jobs.now() - timedelta(minutes=5))
    fresh = InboundEvent(tenant_id=tenant_id, webhook_id="fresh", topic="customers/update", body=b"{}")
    done = InboundEvent(tenant_id=tenant_id, webhook_id="done", topic="customers/update", body=b"{}",
                        status=EventStatus.PROCESSED.value, received_at=jobs.now() - timedelta(minutes=5))
    session.add_all([old, fresh, done])
    session.commit()
    result = sweeper.sweep(after_seconds=60)
    assert sent == [(old.id, tenant_id)] and result.events == 1
    session.refresh(old)
    assert old.status == EventStatus.ENQUEUED.value


def test_stuck_jobs_are_restarted_but_waiting_ones_are_not(session, tenant_id: int, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    started: list[tuple[int, str]] = []
    monkeypatch.setattr(sweeper, "enqueue_job", lambda job, queue: started.append((job.id, queue)))
    stuck = jobs.new_job(session, tenant_id=tenant_id)
    stuck.status, stuck.updated_at = JobStatus.RUNNING.value, jobs.now() - timedelta(minutes=10)
    waiting = jobs.new_job(session, tenant_id=tenant_id)
    waiting.updated_at = jobs.now() - timedelta(minutes=10)
    waiting.next_run_at = jobs.now() + timedelta(minutes=5)  # a retry countdown not yet due
    recent = jobs.new_job(session, tenant_id=tenant_id)
    session.commit()
    session.execute(jobs.update(jobs.SyncJob).where(jobs.SyncJob.id.in_([stuck.id, waiting.id]))
                    .values(updated_at=jobs.now() - timedelta(minutes=10)))
    session.commit()
    result = sweeper.sweep(after_seconds=60)
    assert started == [(stuck.id, "pos.heartland")] and result.jobs == 1
    assert recent.id not in [s[0] for s in started]


def test_enqueued_events_whose_message_was_lost_are_enqueued_again_unless_a_backlog_holds_them(  # type: ignore[no-untyped-def]
        session, tenant_id: int, monkeypatch) -> None:
    from possync.worker.runtime import redis_client

    sent: list[tuple[int, int | None]] = []  # (event id, tenant id): the tenant picks the event's fair line
    monkeypatch.setattr(sweeper, "enqueue_event", lambda *args: sent.append(args))
    lost = InboundEvent(tenant_id=tenant_id, webhook_id="lost", topic="customers/update", body=b"{}",
                        status=EventStatus.ENQUEUED.value, received_at=jobs.now() - timedelta(minutes=5),
                        enqueued_at=jobs.now() - timedelta(minutes=5))
    session.add(lost)
    session.commit()
    redis_client().rpush("intake", b"a message still waiting")  # the intake queue has a backlog
    assert sweeper.sweep(after_seconds=60).events == 0 and sent == []
    redis_client().delete("intake")  # the backlog drained and the event is still not processed: lost
    assert sweeper.sweep(after_seconds=60).events == 1 and sent == [(lost.id, tenant_id)]
