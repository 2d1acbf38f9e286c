"""Maintained counts: every path that changes a job or an event moves them, in its own transaction,
and a read agrees with counting the rows."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from possync.models.counts import fold_deltas, read_counts
from possync.models.db import get_sessionmaker
from possync.models.tables import HistoryCountDelta, InboundEvent, JobStatus, SyncJob, Tenant
from possync.tasks import jobs


def make_tenant(session: Session, name: str = "acme") -> int:
    tenant = Tenant(name=name, account_name=name, shop_domain=f"{name}.myshopify.com", pos_kind="heartland",
                    shopify_config={}, pos_config={}, settings={}, shopify_secrets="x", pos_secrets="x")
    session.add(tenant)
    session.flush()
    return tenant.id


def as_counter(session: Session) -> Counter:
    return Counter({(c.kind, c.tenant_id, c.direction, c.status, c.outcome, c.ambiguous): c.n
                    for c in read_counts(session)})


def counted_rows(session: Session) -> Counter:
    """What the counts must say, counted the slow way."""
    found: Counter = Counter()
    for job in session.scalars(select(SyncJob)):
        found[("job", job.tenant_id, job.direction, job.status, job.outcome or "", bool(job.ambiguous))] += 1
    for event in session.scalars(select(InboundEvent)):
        found[("event", event.tenant_id, "", event.status, "", False)] += 1
    return found


def test_counts_follow_every_job_transition(session: Session) -> None:
    tenant_id = make_tenant(session)
    made = [jobs.new_job(session, tenant_id=tenant_id, subject=str(n)) for n in range(4)]
    session.commit()
    first, second, third, _ = made
    jobs.fail(first, "the POS said no", "http_4xx")
    third.ambiguous = True
    session.commit()
    assert as_counter(session) == counted_rows(session)
    # The runner's one-statement save (a data-modifying CTE), with the supersede of an earlier failure.
    retry = jobs.new_job(session, tenant_id=tenant_id, subject="0")
    session.commit()
    jobs.advance(retry, retry.step, {}, finish=True)
    retry.outcome = "updated"
    jobs.save(session, retry, [jobs.Attempt(retry.step, "ok")], supersede=True)
    session.commit()
    session.expire_all()
    assert session.get_one(SyncJob, first.id).outcome == "superseded"
    assert as_counter(session) == counted_rows(session)
    assert jobs.prepare_replay(session.get_one(SyncJob, second.id)) is False  # not failed: nothing moves
    session.delete(session.get_one(SyncJob, second.id))
    session.commit()
    assert as_counter(session) == counted_rows(session)


def test_a_rolled_back_change_counts_nothing(session: Session) -> None:
    tenant_id = make_tenant(session)
    session.commit()
    jobs.new_job(session, tenant_id=tenant_id)
    session.rollback()
    assert as_counter(session) == Counter()


def test_folding_moves_deltas_into_counts_without_changing_a_read(session: Session) -> None:
    tenant_id = make_tenant(session)
    for n in range(3):
        job = jobs.new_job(session, tenant_id=tenant_id, subject=str(n))
        job.status = JobStatus.SUCCEEDED.value
        session.flush()
    session.add(InboundEvent(tenant_id=tenant_id, webhook_id="w1", topic="orders/create",
                             received_at=datetime.now(UTC)))
    session.commit()
    before = as_counter(session)
    fold_deltas(session)
    session.commit()
    assert session.scalar(select(func.count()).select_from(HistoryCountDelta)) == 0
    assert as_counter(session) == before == counted_rows(session)
    fold_deltas(session)  # nothing to fold: nothing changes
    session.commit()
    assert as_counter(session) == before


def test_a_deleted_tenants_counts_go_at_the_fold(session: Session) -> None:
    keep, gone = make_tenant(session), make_tenant(session, "gone")
    jobs.new_job(session, tenant_id=keep)
    jobs.new_job(session, tenant_id=gone)
    session.commit()
    fold_deltas(session)
    session.delete(session.get_one(Tenant, gone))
    session.commit()
    fold_deltas(session)
    session.commit()
    assert {key[1] for key in as_counter(session)} == {keep}


def test_without_triggers_the_rows_are_counted(sqlite_url: str) -> None:
    session = get_sessionmaker(sqlite_url)()
    try:
        tenant_id = make_tenant(session)
        jobs.new_job(session, tenant_id=tenant_id)
        jobs.fail(jobs.new_job(session, tenant_id=tenant_id), "no", "http_4xx")
        session.commit()
        assert as_counter(session) == counted_rows(session)
        fold_deltas(session)  # a no-op there
    finally:
        session.close()
