"""Pipeline metrics read from the database and the broker at scrape time.

Workers run in other processes (and on other machines), so what the receiver's `/metrics` can say
truthfully about syncs comes from where the truth is: the database and the Redis queues. Job and
event counts are read from maintained counts (`possync.models.counts`), so a scrape costs the same whatever
the size of the history; they include history deleted by retention (`possync prune`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import select

from possync.models.counts import read_counts
from possync.models.db import session_scope
from possync.models.tables import EventStatus, JobStatus, Tenant
from possync.worker.fairqueue import QueueDepth


class PipelineCollector(Collector):
    def __init__(self, database_url: str, queue_depths: Callable[[], dict[str, QueueDepth]] | None = None) -> None:
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
            tenants = {tenant_id: (name, pos) for tenant_id, name, pos
                       in session.execute(select(Tenant.id, Tenant.name, Tenant.pos_kind))}
            counts = read_counts(session)
        failed_by_tenant = dict.fromkeys(tenants, 0)
        ambiguous_by_tenant: dict[int, int] = {}
        jobs_by_key: dict[tuple[str, ...], int] = {}
        for count in counts:
            if count.tenant_id not in tenants:
                continue  # a tenant deleted since (its counts go at the next fold)
            name, pos = tenants[count.tenant_id]
            if count.kind == "event":
                events.add_metric([name, count.status or EventStatus.RECEIVED], count.n)
                continue
            # pos None: a CRM-only tenant (a None label value fails the whole scrape)
            key: tuple[str, ...] = (name, pos or "", count.direction, count.status, count.outcome)
            jobs_by_key[key] = jobs_by_key.get(key, 0) + count.n
            if count.status == JobStatus.FAILED.value:
                failed_by_tenant[count.tenant_id] += count.n
            if count.ambiguous:
                ambiguous_by_tenant[count.tenant_id] = ambiguous_by_tenant.get(count.tenant_id, 0) + count.n
        for key, n in jobs_by_key.items():
            jobs.add_metric(list(key), n)
        for tenant_id, n in failed_by_tenant.items():
            failed.add_metric([tenants[tenant_id][0]], n)
        for tenant_id, n in ambiguous_by_tenant.items():
            ambiguous.add_metric([tenants[tenant_id][0]], n)
        yield from (jobs, failed, ambiguous, events)
        depth = GaugeMetricFamily("possync_queue_depth", "Messages for a queue: in the broker and in its fair lines",
                                  labels=["queue"])
        # What KEDA scales on (deploy/k8s/3*-scaledobject.yaml): steps waiting on a due time are left out.
        ready = GaugeMetricFamily("possync_queue_ready", "Messages for a queue ready to run now: in the broker's "
                                  "list and in line in its fair lines", labels=["queue"])
        for queue, messages in (self.queue_depths() if self.queue_depths else {}).items():
            depth.add_metric([queue], messages.total)
            ready.add_metric([queue], messages.ready)
        yield depth
        yield ready
