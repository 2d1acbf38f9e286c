"""Pipeline metrics read from the database and the broker at scrape time.

Workers run in other processes (and on other machines), so what the receiver's `/metrics` can say
truthfully about syncs comes from where the truth is: the `sync_jobs` rows and the Redis queues.
Each scrape runs a few grouped COUNTs on indexed columns.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from models.db import session_scope
from models.tables import EventStatus, InboundEvent, JobStatus, SyncJob, Tenant


class PipelineCollector(Collector):
    def __init__(self, database_url: str, queue_depths: Callable[[], dict[str, int]] | None = None) -> None:
        self.database_url = database_url
        self.queue_depths = queue_depths

    def collect(self) -> Iterator[GaugeMetricFamily]:
        jobs = GaugeMetricFamily("possync_sync_jobs", "Sync jobs by tenant, POS kind, direction, status and outcome",
                                 labels=["tenant", "pos", "direction", "status", "outcome"])
        failed = GaugeMetricFamily("possync_failed_list_size", "Sync jobs in the failed list (replayable), by tenant",
                                   labels=["tenant"])
        ambiguous = GaugeMetricFamily("possync_ambiguous_matches", "Jobs whose match was ambiguous, by tenant",
                                      labels=["tenant"])
        events = GaugeMetricFamily("possync_inbound_events", "Stored webhook deliveries by tenant and status",
                                   labels=["tenant", "status"])
        with session_scope(self.database_url) as session:
            tenants = {t.id: (t.name, t.pos_kind) for t in session.scalars(select(Tenant))}
            failed_by_tenant = dict.fromkeys(tenants, 0)
            rows = session.execute(
                select(SyncJob.tenant_id, SyncJob.direction, SyncJob.status, SyncJob.outcome, func.count())
                .group_by(SyncJob.tenant_id, SyncJob.direction, SyncJob.status, SyncJob.outcome))
            for tenant_id, direction, status, outcome, count in rows:
                name, pos = tenants.get(tenant_id, (str(tenant_id), ""))
                jobs.add_metric([name, pos, direction, status, outcome or ""], count)
                if status == JobStatus.FAILED.value:
                    failed_by_tenant[tenant_id] = failed_by_tenant.get(tenant_id, 0) + count
            for tenant_id, count in failed_by_tenant.items():
                failed.add_metric([tenants.get(tenant_id, (str(tenant_id),))[0]], count)
            for tenant_id, count in session.execute(
                    select(SyncJob.tenant_id, func.count()).where(SyncJob.ambiguous.is_(True))
                    .group_by(SyncJob.tenant_id)):
                ambiguous.add_metric([tenants.get(tenant_id, (str(tenant_id),))[0]], count)
            for tenant_id, status, count in session.execute(
                    select(InboundEvent.tenant_id, InboundEvent.status, func.count())
                    .group_by(InboundEvent.tenant_id, InboundEvent.status)):
                events.add_metric([tenants.get(tenant_id, (str(tenant_id),))[0], status or EventStatus.RECEIVED], count)
        yield from (jobs, failed, ambiguous, events)
        depth = GaugeMetricFamily("possync_queue_depth", "Messages for a queue: in the broker and in its fair lines",
                                  labels=["queue"])
        for queue, count in (self.queue_depths() if self.queue_depths else {}).items():
            depth.add_metric([queue], count)
        yield depth
