"""Webhook intake under gunicorn: accepted deliveries per second and p99 latency, against bare `/healthz`.

What runs: the real receiver (`possync.entry.web.wsgi:app`) under gunicorn with the settings of
`possync.entry.web.gunicorn_conf` (its threaded worker, `possync.entry.web.buffered_worker`), a fresh PostgreSQL
database created for the run and dropped after it, and the local Redis as broker with a real enqueue
(`possync.tasks.intake.enqueue_event`, Celery on Redis under a key prefix owned by the run). If `possync.tasks.intake`
cannot be imported, the enqueue is an LPUSH of the event id onto a Redis list, so the broker round trip
is still paid; the row says which.

Load comes from a second process over loopback: a thread pool of keep-alive connections, each
sending signed `orders/create` deliveries (a realistic ~3.5 KB body) with unique webhook ids. Three
phases, each after a short warm-up: deliveries flat out (throughput and its p99), deliveries paced
at the 300/s target (p99 where the target is stated, measured from each request's scheduled start so
a stall cannot hide), and `GET /healthz` flat out, the ceiling of the HTTP stack alone.

Every accepted delivery is checked afterwards: rows stored == 200s counted, ids handed to the broker.
Run alone: `.venv/bin/python -m bench.intake` (needs PostgreSQL and Redis on 127.0.0.1).
"""

from __future__ import annotations

import argparse
import http.client
import multiprocessing
import os
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis
import sqlalchemy as sa

from bench.table import Result, percentile, render
from possync.adapters.shopify.webhooks import webhook_headers
from possync.entry.web import gunicorn_conf
from testing.receiver import (
    CLIENT_SECRET,
    LPUSH_LIST,
    REDIS_URL,
    SHOP,
    THREADS,
    WORKERS,
    Environment,
    delivery_body,
    environment,
)

TARGET_RATE = 300.0  # accepted deliveries per second
TARGET_P99_MS = 100.0
CONNECTIONS = 8  # concurrent keep-alive connections of the load generator


# --- the environment under test (`testing.receiver`) -------------------------------------------------------
def _server_cpu_seconds(env: Environment) -> float:
    """User + system CPU seconds used so far by gunicorn's master and workers (Linux /proc)."""
    assert env.process is not None
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pid, ppid = int(stat.parent.name), int(fields[1])
        if env.process.pid in (pid, ppid):
            total += (int(fields[11]) + int(fields[12])) / ticks
    return total


# --- the load generator (runs in a second process) ---------------------------------------------------------
@dataclass
class Phase:
    kind: str  # "webhook" or "healthz"
    seconds: float
    warmup: float = 2.0
    rate: float | None = None  # paced requests per second across all connections; None = flat out
    connections: int = CONNECTIONS
    keepalive: bool = True  # False: a new TCP connection per request, as many senders would open



def _worker(port: int, phase: Phase, index: int, start: float, out: list[tuple[float, float, int]],
            run: str) -> None:
    body = delivery_body()
    base = webhook_headers(body, "orders/create", CLIENT_SECRET, SHOP)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    end = start + phase.warmup + phase.seconds
    sent = 0
    while True:
        scheduled = start + (sent * phase.connections + index) / phase.rate if phase.rate else time.perf_counter()
        if scheduled >= end:
            break
        if phase.rate:
            delay = scheduled - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
        sent += 1
        try:
            if phase.kind == "healthz":
                conn.request("GET", "/healthz")
            else:
                headers = dict(base)
                # Each a delivery of its own event: a repeated event id is stored once (a replay).
                headers["X-Shopify-Webhook-Id"] = headers["X-Shopify-Event-Id"] = f"{run}-{index}-{sent}"
                conn.request("POST", "/webhooks/shopify", body, headers)
            response = conn.getresponse()
            response.read()
            status = response.status
            if not phase.keepalive:
                conn.close()  # http.client reconnects on the next request
        except (OSError, http.client.HTTPException):
            status = 0
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        done = time.perf_counter()
        if scheduled - start >= phase.warmup:
            out.append((scheduled - start, done - scheduled, status))
    conn.close()


def generate_load(port: int, phase: Phase, run: str, pipe: Any) -> None:
    """Child process: run one phase with a thread per connection; send back (start, latency, status)."""
    start = time.perf_counter() + 0.2
    results: list[list[tuple[float, float, int]]] = [[] for _ in range(phase.connections)]
    threads = [
        threading.Thread(target=_worker, args=(port, phase, i, start, results[i], run))
        for i in range(phase.connections)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    pipe.send([sample for chunk in results for sample in chunk])
    pipe.close()


@dataclass(frozen=True)
class Measured:
    ok: int
    other: int
    rate: float  # 2xx per second over the measured window
    p50_ms: float
    p99_ms: float
    latencies_ms: list[float] = field(default_factory=list)  # of the 2xx answers, for pooling phases


def run_phase(port: int, phase: Phase, run: str) -> Measured:
    context = multiprocessing.get_context("spawn")
    parent, child = context.Pipe(duplex=False)
    process = context.Process(target=generate_load, args=(port, phase, run, child))
    process.start()
    samples: list[tuple[float, float, int]] = parent.recv()
    process.join()
    ok = [s for s in samples if 200 <= s[2] < 300]
    latencies = [s[1] * 1000 for s in ok] or [float("nan")]
    # Requests scheduled in the window may finish after it when the server falls behind: count the
    # rate over the time they really took.
    span = max([phase.seconds, *(s[0] + s[1] - phase.warmup for s in ok)])
    return Measured(len(ok), len(samples) - len(ok), len(ok) / span, percentile(latencies, 50),
                    percentile(latencies, 99), latencies)


# --- the benchmark --------------------------------------------------------------------------------------------
def _stored(env: Environment) -> tuple[int, int]:
    """(rows stored, rows handed to the broker) in the run's database."""
    engine = sa.create_engine(env.database_url)
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT count(*) FROM inbound_events")).scalar_one()
        enqueued = conn.execute(sa.text("SELECT count(*) FROM inbound_events WHERE status = 'enqueued'")).scalar_one()
    engine.dispose()
    return int(rows), int(enqueued)


def run(
    seconds: float = 10.0,
    progress: Callable[[str], None] | None = None,
    *,
    workers: int = WORKERS,
    threads: int = THREADS,
    connections: int = CONNECTIONS,
    keepalive: bool = True,
) -> list[Result]:
    say = progress or (lambda _text: None)
    with environment(workers, threads) as env:
        kind = "keep-alive connections" if keepalive else "connections (one TCP connection per request)"
        worker_class = gunicorn_conf.worker_class.rsplit(".", 1)[-1]
        how = (f"gunicorn {worker_class} {workers}x{threads}, {connections} {kind} from a second "
               f"process, PostgreSQL + Redis on loopback, {os.cpu_count()} cores shared by all")
        enqueue = ("real enqueue: possync.tasks.intake.enqueue_event (Celery on Redis)" if env.real_enqueue else
                   "enqueue: LPUSH to a Redis list (possync.tasks.intake not importable)")
        say(f"flat out for {seconds:.0f} s ...")
        cpu_before, rows_before = _server_cpu_seconds(env), _stored(env)[0]
        flat = run_phase(env.port, Phase("webhook", seconds, connections=connections, keepalive=keepalive), "flat")
        cpu_per_delivery = (_server_cpu_seconds(env) - cpu_before) * 1000 / max(1, _stored(env)[0] - rows_before)
        say(f"paced at {TARGET_RATE:.0f}/s for {seconds:.0f} s ...")
        paced = run_phase(env.port, Phase("webhook", seconds, rate=TARGET_RATE, connections=connections,
                                           keepalive=keepalive), "paced")
        say(f"GET /healthz flat out for {seconds:.0f} s ...")
        health = run_phase(env.port, Phase("healthz", seconds, connections=connections, keepalive=keepalive),
                           "health")
        rows, enqueued = _stored(env)
        accepted = flat.ok + paced.ok  # warm-up deliveries are stored too, so rows >= accepted
        integrity = f"{rows} rows stored for {accepted} measured 200s, {enqueued} enqueued"
        if env.real_enqueue is False:
            client = redis.Redis.from_url(REDIS_URL)
            pushed = client.llen(env.redis_prefix + LPUSH_LIST)
            client.close()
            integrity += f", {pushed} ids pushed"
    stored_ok = rows >= accepted and enqueued == rows
    comparison: list[Result] = []
    if env.real_enqueue:
        say(f"flat out with an LPUSH enqueue instead of Celery for {seconds:.0f} s ...")
        with environment(workers, threads, enqueue="lpush") as bare:
            cpu_before, rows_before = _server_cpu_seconds(bare), _stored(bare)[0]
            lpush = run_phase(bare.port, Phase("webhook", seconds, connections=connections, keepalive=keepalive),
                              "lpush")
            lpush_cpu = (_server_cpu_seconds(bare) - cpu_before) * 1000 / max(1, _stored(bare)[0] - rows_before)
        comparison.append(Result(
            "intake with LPUSH instead of Celery: deliveries/s", lpush.rate, "/s", "reference", True,
            f"p99 {lpush.p99_ms:.1f} ms; receiver CPU {lpush_cpu:.1f} ms per delivery (Celery: "
            f"{cpu_per_delivery:.1f} ms): the share of the Celery publish"))
    return [
        Result("intake: accepted deliveries/s (flat out)", flat.rate, "/s", f">= {TARGET_RATE:.0f}/s",
               flat.rate >= TARGET_RATE and flat.other == 0 and stored_ok,
               f"{how}; {enqueue}; orders/create ~{len(delivery_body()) / 1024:.1f} KB; "
               f"{flat.other} non-2xx; {integrity}"),
        Result("intake: p99 latency (flat out)", flat.p99_ms, "ms", f"< {TARGET_P99_MS:.0f} ms",
               flat.p99_ms < TARGET_P99_MS,
               f"p50 {flat.p50_ms:.1f} ms at {flat.rate:.0f}/s; receiver CPU {cpu_per_delivery:.1f} ms per delivery "
               "(gunicorn processes only; PostgreSQL, Redis and the load generator share the same cores)"),
        Result(f"intake: p99 latency paced at {TARGET_RATE:.0f}/s", paced.p99_ms, "ms", f"< {TARGET_P99_MS:.0f} ms",
               paced.p99_ms < TARGET_P99_MS and paced.other == 0,
               f"p50 {paced.p50_ms:.1f} ms, {paced.rate:.0f}/s achieved; latency from each scheduled start"),
        Result("healthz: requests/s (flat out)", health.rate, "/s", "reference", True,
               f"p99 {health.p99_ms:.1f} ms; same server, connections and process layout"),
        Result("intake / healthz throughput", flat.rate / health.rate if health.rate else 0.0, "ratio", "reference",
               True, "share of the bare HTTP stack's rate left after verify + store + enqueue"),
        *comparison,
    ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.intake", description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="measured seconds per phase")
    parser.add_argument("--workers", type=int, default=WORKERS, help="gunicorn worker processes")
    parser.add_argument("--threads", type=int, default=THREADS, help="threads per gunicorn worker")
    parser.add_argument("--connections", type=int, default=CONNECTIONS, help="load generator connections")
    parser.add_argument("--no-keepalive", action="store_true", help="open a new connection for every request")
    args = parser.parse_args(argv)
    results = run(args.seconds, progress=lambda text: print(text, file=sys.stderr, flush=True),
                  workers=args.workers, threads=args.threads, connections=args.connections,
                  keepalive=not args.no_keepalive)
    print(render(results))


if __name__ == "__main__":
    main()
