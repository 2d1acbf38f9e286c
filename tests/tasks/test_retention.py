"""Retention: `prune` deletes settled history past its age, in small batches, and nothing else."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from possync.models.counts import read_counts
from possync.models.db import get_engine
from possync.models.tables import EventStatus, InboundEvent, JobStatus, NearMatch, SyncAttempt, SyncJob
from possync.tasks import jobs
from possync.tasks.retention import prune
from tests.models.test_counts import make_tenant

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
OLD = NOW - timedelta(days=40)
RECENT = NOW - timedelta(days=2)


def add_event(session: Session, tenant_id: int, name: str, status: str, at: datetime) -> int:
    event = InboundEvent(tenant_id=tenant_id, webhook_id=name, topic="orders/create", status=status, received_at=at)
    session.add(event)
    session.flush()
    return event.id


def add_job(session: Session, tenant_id: int, name: str, status: str, born: datetime, settled: datetime,
            event_id: int | None = None) -> int:
    job = jobs.new_job(session, tenant_id=tenant_id, subject=name, event_id=event_id)
    job.status = status
    session.add(SyncAttempt(job_id=job.id, step=job.step, outcome="ok", started_at=born))
    session.flush()
    session.execute(update(SyncJob).where(SyncJob.id == job.id).values(created_at=born, updated_at=settled))
    return job.id


def history(session: Session) -> tuple[set[str], set[str]]:
    session.expire_all()
    return (set(session.scalars(select(SyncJob.subject))), set(session.scalars(select(InboundEvent.webhook_id))))


def test_prune_deletes_settled_history_past_its_age_and_nothing_else(session: Session, db_url: str) -> None:
    tenant = make_tenant(session)
    with_old_job = add_event(session, tenant, "e-with-old-job", EventStatus.PROCESSED.value, OLD)
    with_failed_job = add_event(session, tenant, "e-with-failed-job", EventStatus.PROCESSED.value, OLD)
    add_event(session, tenant, "e-old-processed", EventStatus.PROCESSED.value, OLD)
    add_event(session, tenant, "e-old-ignored", EventStatus.IGNORED.value, OLD)
    add_event(session, tenant, "e-old-received", EventStatus.RECEIVED.value, OLD)  # still to process
    add_event(session, tenant, "e-old-failed", EventStatus.FAILED.value, OLD)  # the operator's evidence
    add_event(session, tenant, "e-recent", EventStatus.PROCESSED.value, RECENT)
    old_done = add_job(session, tenant, "j-old-succeeded", JobStatus.SUCCEEDED.value, OLD, OLD, with_old_job)
    add_job(session, tenant, "j-old-failed", JobStatus.FAILED.value, OLD, OLD, with_failed_job)
    add_job(session, tenant, "j-old-pending", JobStatus.PENDING.value, OLD, OLD)
    add_job(session, tenant, "j-old-but-settled-recently", JobStatus.SUCCEEDED.value, OLD, RECENT)
    add_job(session, tenant, "j-recent", JobStatus.SUCCEEDED.value, RECENT, RECENT)
    session.add(NearMatch(tenant_id=tenant, direction="shopify_to_pos", shopify_customer_id="1", pos_customer_id="2",
                          matched_on="phone", differs="email", decision="new", job_id=old_done))
    session.commit()
    counts_before = Counter({(c.kind, c.status, c.outcome): c.n for c in read_counts(session)})

    result = prune(get_engine(db_url), 30, batch=2, now=NOW)

    job_names, event_names = history(session)
    assert job_names == {"j-old-failed", "j-old-pending", "j-old-but-settled-recently", "j-recent"}
    assert event_names == {"e-with-failed-job", "e-old-received", "e-old-failed", "e-recent"}
    assert (result.jobs, result.events) == (1, 3)
    assert result.batches >= 2  # batches of two ids: the walk went on past the first
    assert session.scalar(select(func.count()).select_from(SyncAttempt)) == 4  # the deleted job's went with it
    assert session.scalar(select(NearMatch.job_id)) is None  # the near match stays, for the operator
    # Totals keep what was pruned.
    assert Counter({(c.kind, c.status, c.outcome): c.n for c in read_counts(session)}) == counts_before


def test_prune_walks_past_gaps_and_stops_at_the_first_young_row(session: Session, db_url: str) -> None:
    tenant = make_tenant(session)
    for n in range(12):
        add_job(session, tenant, f"old-{n}", JobStatus.SUCCEEDED.value, OLD, OLD)
    session.commit()
    session.execute(update(SyncJob).where(SyncJob.subject.in_(["old-3", "old-4", "old-5", "old-6"]))
                    .values(status=JobStatus.FAILED.value))
    session.commit()
    for n in range(5):
        add_job(session, tenant, f"young-{n}", JobStatus.SUCCEEDED.value, RECENT, RECENT)
    session.commit()
    result = prune(get_engine(db_url), 30, batch=3, now=NOW)
    assert history(session)[0] == {"old-3", "old-4", "old-5", "old-6", *(f"young-{n}" for n in range(5))}
    assert result.jobs == 8
    assert result.batches == 4  # the 12 old ids in four ranges of three; the young ones are never read
    assert prune(get_engine(db_url), 30, batch=3, now=NOW).jobs == 0  # again: nothing more


def test_prune_of_an_empty_database_does_nothing(db_url: str) -> None:
    result = prune(get_engine(db_url), 30)
    assert (result.jobs, result.events, result.batches) == (0, 0, 0)
