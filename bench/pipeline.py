"""The sync pipeline end to end: latency from an accepted webhook, and throughput against bare Celery.

Latency: the receiver (in this process), one `possync worker` (CONCURRENCY below), fakes that answer at
once, an idle system. Per POS kind, `orders/create` deliveries for new customers are sent one at a
time; each is timed from the receiver's 200 to (a) the POS fake logging the write that created the
customer and (b) the job row's `finished_at` (whole chain done, consent step included). Same clock:
the fakes run in this process and the worker on this machine.

Throughput: 1,000 sync jobs for new R-Series customers created directly (`possync.tasks.jobs.new_job`, then
`possync.tasks.pipeline.enqueue_job` for each): the receiver and intake are bypassed, so this measures the
five steps alone (one message per sync: a worker runs a job's steps back to back). Reference, same
run, same Redis, same Celery settings and worker concurrency: 1,000 chains of five no-op tasks
(`bench.noop_tasks`). Both are timed from the first publish to the last completion. The fakes' own
limits are off and the shared limiter is told the vendor allows far more than we send
(`Stack.lift_limiter`), so the figure is the pipeline's, not a vendor budget's. CPU seconds per sync
are read from /proc for the worker, this process (fakes, publisher) and the whole machine (the rest
is PostgreSQL and Redis), which says where a miss comes from.
"""

from __future__ import annotations

import os
import socket
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

import redis
import sqlalchemy as sa

from bench import noop_tasks
from bench.table import Result, percentile, render
from possync.worker.settings import default_processes
from testing.stack import (
    KINDS,
    REDIS_URL,
    CpuSample,
    Shop,
    Stack,
    add_customer,
    finished_count,
    jobs_of,
    order_webhook,
    stack,
    wait_for,
)

LATENCY_SYNCS = 100  # per POS kind
LATENCY_WARMUP = 5
P50_TARGET_S = 1.0
P99_TARGET_S = 3.0
THROUGHPUT_JOBS = 1_000
THROUGHPUT_WARMUP = 30
# Worker processes for both the pipeline and the bare chain: possync's default (two per core);
# BENCH_CONCURRENCY overrides it.
CONCURRENCY = int(os.environ.get("BENCH_CONCURRENCY", str(default_processes())))
RATE_TARGET = 100.0  # syncs per second
RATIO_TARGET = 0.5  # of the bare chain's rate
WRITE_METHODS = ("POST", "PUT", "PATCH")

Say = Callable[[str], None]


def _quiet(_text: str) -> None:
    pass


# --- latency ----------------------------------------------------------------------------------------------
@dataclass
class Timings:
    written: list[float]  # seconds from the 200 to the POS write that created the customer
    done: list[float]  # ... to the job's finished_at
    failed: int


def _one_sync(s: Stack, shop: Shop, i: int, expected: int) -> tuple[float, float] | None:
    customer_id = add_customer(shop, i)
    before = len(shop.pos.vendor_requests())
    response = shop.send("orders/create", order_webhook(customer_id, i))
    accepted = time.time()
    if response.status_code != 200:
        raise RuntimeError(f"the receiver answered {response.status_code}")
    wait_for(lambda: finished_count(s.database_url, shop.tenant_id) >= expected, timeout=60, interval=0.005,
             what=f"sync {i} on {shop.kind}")
    job = jobs_of(s.database_url, shop.tenant_id)[-1]
    writes = [r.at for r in shop.pos.vendor_requests()[before:] if r.method in WRITE_METHODS and r.status < 300]
    if job.status != "succeeded" or not writes or job.finished_at is None:
        return None
    return min(writes) - accepted, job.finished_at.timestamp() - accepted


def measure_latency(say: Say = _quiet) -> dict[str, Timings]:
    by_kind: dict[str, Timings] = {}
    with stack("latency") as s:
        s.start_receiver()
        shops = {kind: s.add_shop(kind) for kind in KINDS}
        for shop in shops.values():
            s.lift_limiter(shop)
        s.start_worker("--concurrency", str(CONCURRENCY))
        for kind, shop in shops.items():
            say(f"latency: {LATENCY_SYNCS} webhooks one at a time on {kind} ...")
            timings = Timings([], [], 0)
            for n in range(LATENCY_WARMUP + LATENCY_SYNCS):
                measured = _one_sync(s, shop, n, n + 1)
                if n < LATENCY_WARMUP:
                    continue
                if measured is None:
                    timings.failed += 1
                else:
                    timings.written.append(measured[0])
                    timings.done.append(measured[1])
            by_kind[kind] = timings
    return by_kind


def latency_results(by_kind: dict[str, Timings]) -> list[Result]:
    written = [t for timings in by_kind.values() for t in timings.written]
    done = [t for timings in by_kind.values() for t in timings.done]
    failed = sum(t.failed for t in by_kind.values())
    if not written:
        raise RuntimeError("no sync succeeded")

    def per_kind(pct: float) -> str:
        return "; ".join(f"{k}: write {percentile(t.written, pct) * 1000:.0f} ms, done "
                         f"{percentile(t.done, pct) * 1000:.0f} ms" for k, t in by_kind.items() if t.written)

    how = (f"{len(written)} orders/create for new customers, one at a time, {LATENCY_SYNCS} per POS; "
           f"worker --concurrency {CONCURRENCY}; fakes without delay; {failed} failed")
    rows = []
    for pct, target in ((50, P50_TARGET_S), (99, P99_TARGET_S)):
        value = percentile(written, pct)
        rows.append(Result(
            f"pipeline: webhook accepted -> POS customer written, p{pct}", value * 1000, "ms",
            f"< {target * 1000:,.0f} ms", value < target and failed == 0,
            f"{how}; whole chain done p{pct} {percentile(done, pct) * 1000:.0f} ms; {per_kind(pct)}"))
    return rows


# --- throughput -------------------------------------------------------------------------------------------
@dataclass
class Run:
    count: int
    seconds: float
    cpu: CpuSample  # used during the run
    failed: int = 0

    @property
    def rate(self) -> float:
        return self.count / self.seconds

    def cpu_note(self) -> str:
        return self.cpu.per_item_note(self.count, self.seconds)


def measure_noop(s: Stack, count: int, say: Say = _quiet) -> Run:
    noop_tasks.configure(s.settings())
    node = noop_tasks.NODE.replace("%h", socket.gethostname())
    command = [sys.executable, "-m", "celery", "-A", "bench.noop_tasks:app", "worker", "-Q", noop_tasks.QUEUE,
               "-n", noop_tasks.NODE, "-E", "--loglevel", "WARNING", "--concurrency", str(CONCURRENCY)]
    worker = s.start_worker(command=command, app=noop_tasks.app, node=node)
    client = redis.Redis.from_url(REDIS_URL)
    done_key, at_key = s.redis_prefix + noop_tasks.DONE_KEY, s.redis_prefix + noop_tasks.DONE_AT_KEY

    def done() -> int:
        return int(client.get(done_key) or 0)

    try:
        for i in range(THROUGHPUT_WARMUP):
            noop_tasks.start_chain(i)
        wait_for(lambda: done() >= THROUGHPUT_WARMUP, 60, what="the no-op warm-up")
        client.delete(done_key, at_key)
        say(f"throughput: {count} bare chains of five no-op tasks ...")
        before = CpuSample.take([worker])
        start = time.time()
        for i in range(count):
            noop_tasks.start_chain(i)
        wait_for(lambda: done() >= count, 300, 0.02, what="the no-op chains")
        end = float(client.get(at_key) or time.time())
        return Run(count, end - start, CpuSample.take([worker]) - before)
    finally:
        client.close()
        worker.stop()


def _new_jobs(s: Stack, shop: Shop, customers: list[str]) -> tuple[list[int], str]:
    from possync.models.db import session_scope
    from possync.models.tables import Tenant
    from possync.tasks import jobs
    from possync.tasks.intake import queue_for_tenant

    with session_scope(s.database_url) as session:
        queue = queue_for_tenant(session.get_one(Tenant, shop.tenant_id))
        ids = [jobs.new_job(session, tenant_id=shop.tenant_id, subject=cid,
                            context={"topic": "customers/create", "customer_id": cid}).id for cid in customers]
    return ids, queue


def _enqueue_jobs(s: Stack, ids: list[int], queue: str) -> None:
    from possync.models.db import session_scope
    from possync.models.tables import SyncJob
    from possync.tasks.sending import enqueue_job

    with session_scope(s.database_url) as session:
        for job in session.scalars(sa.select(SyncJob).where(SyncJob.id.in_(ids)).order_by(SyncJob.id)):
            enqueue_job(job, queue)


def measure_pipeline(s: Stack, count: int, say: Say = _quiet) -> Run:
    shop = s.add_shop("lightspeed-r")
    s.lift_limiter(shop)
    customers = [add_customer(shop, i) for i in range(THROUGHPUT_WARMUP + count)]
    worker = s.start_worker("--concurrency", str(CONCURRENCY))
    try:
        warm, queue = _new_jobs(s, shop, customers[:THROUGHPUT_WARMUP])
        _enqueue_jobs(s, warm, queue)
        wait_for(lambda: finished_count(s.database_url, shop.tenant_id) >= THROUGHPUT_WARMUP, 120,
                 what="the pipeline warm-up")
        ids, queue = _new_jobs(s, shop, customers[THROUGHPUT_WARMUP:])
        s.lift_limiter(shop)
        say(f"throughput: {count} sync jobs (new R-Series customers) ...")
        before = CpuSample.take([worker])
        start = time.time()
        _enqueue_jobs(s, ids, queue)
        total = THROUGHPUT_WARMUP + count
        # The end is read from the jobs' finished_at, so counting twice a second loses no precision and
        # keeps the driver's own queries (a tenth of this process's CPU at ten a second) out of the rate.
        wait_for(lambda: finished_count(s.database_url, shop.tenant_id) >= total, 900, 0.5,
                 what=f"{count} sync jobs")
        cpu = CpuSample.take([worker]) - before
        measured = [j for j in jobs_of(s.database_url, shop.tenant_id) if j.id in set(ids)]
        end = max(j.finished_at.timestamp() for j in measured if j.finished_at is not None)
        failed = sum(j.status != "succeeded" for j in measured)
        return Run(count, end - start, cpu, failed=failed)
    finally:
        worker.stop()


@dataclass
class StepCost:
    count: int
    cpu_ms: float  # thread CPU per sync, steps only (no Celery, fakes excluded)
    statements: float  # SQL statements per sync
    commits: float
    requests: float  # HTTP requests to the fakes per sync


def measure_steps(s: Stack, count: int = 50) -> StepCost:
    """The five steps run in this process (`run_steps`, no Celery): what one sync costs in code and I/O."""
    from sqlalchemy import event

    from possync.models.db import get_engine, get_sessionmaker
    from possync.tasks.runner import run_steps
    from possync.tasks.steps import STEP_FUNCTIONS

    shop = s.add_shop("lightspeed-r")
    s.lift_limiter(shop)
    warm = 5
    customers = [add_customer(shop, i) for i in range(warm + count)]
    ids, _queue = _new_jobs(s, shop, customers)
    factory = get_sessionmaker(s.database_url)
    engine = get_engine(s.database_url)
    counted = {"statements": 0, "commits": 0}

    def on_statement(*_args: object) -> None:
        counted["statements"] += 1

    def on_commit(*_args: object) -> None:
        counted["commits"] += 1

    def sync(job_id: int) -> None:
        outcome = run_steps(job_id, STEP_FUNCTIONS, factory)
        if outcome.reason != "succeeded":
            raise RuntimeError(f"job {job_id} did not succeed: {outcome}")

    for job_id in ids[:warm]:
        sync(job_id)
    event.listen(engine, "before_cursor_execute", on_statement)
    event.listen(engine, "commit", on_commit)
    requests_before = len(shop.pos.vendor_requests()) + len(shop.shopify.vendor_requests())
    cpu = time.thread_time()
    try:
        for job_id in ids[warm:]:
            sync(job_id)
    finally:
        cpu = time.thread_time() - cpu
        event.remove(engine, "before_cursor_execute", on_statement)
        event.remove(engine, "commit", on_commit)
    requests = len(shop.pos.vendor_requests()) + len(shop.shopify.vendor_requests()) - requests_before
    return StepCost(count, cpu * 1000 / count, counted["statements"] / count, counted["commits"] / count,
                    requests / count)


def throughput_results(pipeline: Run, bare: Run, steps: StepCost | None = None) -> list[Result]:
    ratio = pipeline.rate / bare.rate
    # Independent of other programs on the machine: the stack's own CPU per bare chain / per sync.
    cpu_ratio = (bare.cpu.stack / bare.count) / (pipeline.cpu.stack / pipeline.count)
    return [
        Result("pipeline: throughput (syncs/s)", pipeline.rate, "/s", f">= {RATE_TARGET:.0f}/s",
               pipeline.rate >= RATE_TARGET and pipeline.failed == 0,
               f"{pipeline.count} jobs via new_job + enqueue_job (receiver bypassed), new R-Series customers "
               f"(Shopify read, 2 searches, create), worker --concurrency {CONCURRENCY}, fakes in this process; "
               f"{pipeline.seconds:.1f} s; {pipeline.failed} failed; {pipeline.cpu_note()}"),
        Result("bare Celery: chains of five no-op tasks/s", bare.rate, "/s", "reference", True,
               f"{bare.count} chains, same broker, settings and concurrency; {bare.seconds:.1f} s; {bare.cpu_note()}"),
        Result("pipeline / bare chain throughput", ratio, "ratio", f">= {RATIO_TARGET}", ratio >= RATIO_TARGET,
               f"same run, one after the other; by the stack's own CPU per chain (worker, fakes, PostgreSQL, Redis; "
               f"other programs excluded) {cpu_ratio:.2f}"),
        *([Result("pipeline: step code CPU per sync (no Celery)", steps.cpu_ms, "ms", "(cause)", True,
                  f"the five steps run in-process via run_steps, {steps.count} new R-Series customers: "
                  f"{steps.statements:.0f} SQL statements and {steps.commits:.0f} commits, "
                  f"{steps.requests:.0f} HTTP requests per sync; thread CPU, fakes excluded")] if steps else []),
    ]


def run(progress: Say | None = None) -> list[Result]:
    say = progress or _quiet
    results = latency_results(measure_latency(say))
    with stack("throughput") as s:
        bare = measure_noop(s, THROUGHPUT_JOBS, say)
        pipeline = measure_pipeline(s, THROUGHPUT_JOBS, say)
        say("throughput: the steps alone, in this process ...")
        steps = measure_steps(s)
    return results + throughput_results(pipeline, bare, steps)


if __name__ == "__main__":
    print(render(run(lambda text: print(text, file=sys.stderr, flush=True))))
