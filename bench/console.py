"""The operator console at scale: each page's render time with many jobs in the database, and the receiver's
webhook p99 with and without an operator using the console (side by side, same server).

What runs: the real receiver under gunicorn (`testing.receiver.environment`, a throwaway PostgreSQL database and
the local Redis) with `POSSYNC_CONSOLE_BASIC_AUTH` set, and three tenants whose history is loaded in SQL
(`generate_series`): JOBS sync jobs (one customer per three jobs; 2% failed under two error classes, 1%
pending, 0.5% ambiguous), one attempt per job, one link and one POS-index row per customer, 500 near matches,
200 stored Shopify duplicate groups per tenant (a quarter blocked); the counts' deltas folded as beat does.
Each page is fetched over HTTP (basic auth, keep-alive) REPEAT times; the row is its p95 and median. Then
webhooks paced at RATE/s to the webhook receiver in 2 x ROUNDS windows of SECONDS, alternately alone and
while a thread fetches console pages (back to back, or CONSOLE_RATE a second), the console served by its own
receiver as the deployments run it (or, `--layout shared`, by the webhook receiver itself).

Run alone: `.venv/bin/python -m bench.console --jobs 1000000` (the size of the target; loading takes minutes).
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import sys
import time
from collections.abc import Callable
from contextlib import AbstractContextManager

import requests
import sqlalchemy as sa

from bench.intake import Measured, Phase, run_phase
from bench.paced import paced
from bench.table import Result, percentile, render
from possync.models.counts import fold_deltas
from possync.models.db import session_scope
from testing.receiver import WORKERS, another_receiver, environment

TARGET_MS = 200.0
LOGIN = ("bench", "bench-console-password")
TENANTS = 3
CUSTOMER_BASE = 7_208_000_000_000
DUPLICATE_GROUPS = 200  # per tenant, as the last Shopify duplicate search stored them
# The console's own receiver as docker-compose.yml and deploy/k8s run it: one process; `nice 6` gives it about
# a quarter of a default process's CPU weight under contention, as compose's `cpu_shares: 256` does.
CONSOLE_WORKERS = 1
CONSOLE_THREADS = 4
CONSOLE_NICE = 6


def load(database_url: str, jobs: int) -> dict[str, str]:
    """The history of JOBS syncs across three tenants; returns sample values to search for."""
    customers = max(1, jobs // 3)
    engine = sa.create_engine(database_url)
    with engine.begin() as conn:
        for n in range(2, TENANTS + 1):  # copies of testing.receiver's tenant, under other names and shops
            conn.execute(sa.text(
                "INSERT INTO tenants (name, account_name, shop_domain, pos_kind, shopify_config, pos_config, settings,"
                " shopify_secrets, pos_secrets, created_at, updated_at) SELECT :name, account_name, :shop, 'heartland',"
                " shopify_config, pos_config, settings, shopify_secrets, pos_secrets, now(), now() FROM tenants"
                " WHERE name = 'bench'"), {"name": f"bench{n}", "shop": f"bench{n}.myshopify.com"})
        ids = [row[0] for row in conn.execute(sa.text("SELECT id FROM tenants ORDER BY id"))]
        tenant_of = f"(ARRAY{ids})[1 + (c % {len(ids)})]"
        conn.execute(sa.text(f"""
            INSERT INTO sync_jobs (tenant_id, direction, subject, step, status, attempts, last_error, last_error_class,
                                   ambiguous, outcome, context, created_at, updated_at, finished_at)
            SELECT {tenant_of}, 'shopify_to_pos', ({CUSTOMER_BASE} + c)::text,
                   CASE WHEN i % 50 = 0 THEN 'upsert_pos_customer' ELSE 'done' END,
                   CASE WHEN i % 50 = 0 THEN 'failed' WHEN i % 100 = 1 THEN 'pending' ELSE 'succeeded' END,
                   CASE WHEN i % 50 = 0 THEN 1 ELSE 0 END,
                   CASE WHEN i % 50 = 0 THEN 'Heartland needs an email and a complete address' END,
                   CASE WHEN i % 100 = 0 THEN 'missing_fields' WHEN i % 50 = 0 THEN 'RetryableError' END,
                   i % 200 = 3,
                   CASE WHEN i % 50 = 0 OR i % 100 = 1 THEN NULL WHEN i % 3 = 0 THEN 'created'
                        WHEN i % 3 = 1 THEN 'updated' ELSE 'unchanged' END,
                   jsonb_build_object('topic', 'orders/create', 'pos_id', 'p' || c,
                     'candidates', CASE WHEN i % 200 = 3 THEN jsonb_build_array('p' || c, 'q' || c) END,
                     'shopify_customer', jsonb_build_object('id', ({CUSTOMER_BASE} + c)::text, 'customer',
                       jsonb_build_object('first_name', 'F', 'last_name', 'L', 'email', 'c' || c || '@example.com',
                                          'phone', '+1613' || lpad((c % 10000000)::text, 7, '0')))),
                   now() - (i * interval '2 seconds'), now() - (i * interval '2 seconds'),
                   CASE WHEN i % 100 = 1 THEN NULL ELSE now() - (i * interval '2 seconds') END
            FROM (SELECT i, i % {customers} AS c FROM generate_series(1, {jobs}) AS i) AS s"""))
        conn.execute(sa.text("""
            INSERT INTO sync_attempts (job_id, step, outcome, http_status, latency_ms, error, started_at)
            SELECT id, 'upsert_pos_customer', CASE WHEN status = 'failed' THEN 'fatal' ELSE 'ok' END, 200, 48.0,
                   last_error, created_at FROM sync_jobs"""))
        conn.execute(sa.text(f"""
            INSERT INTO customer_links (tenant_id, shopify_customer_id, pos_customer_id, pos_status, created_at,
                                        updated_at)
            SELECT {tenant_of}, ({CUSTOMER_BASE} + c)::text, 'p' || c, 'active', now(), now()
            FROM generate_series(0, {customers - 1}) AS c"""))
        conn.execute(sa.text(f"""
            INSERT INTO pos_index (tenant_id, pos_customer_id, age_key, email_key, phone_key, status, last_seen_at)
            SELECT {tenant_of}, 'p' || c, lpad(c::text, 12, '0'), 'c' || c || '@example.com',
                   '613' || lpad((c % 10000000)::text, 7, '0'), 'active', now()
            FROM generate_series(0, {customers - 1}) AS c"""))
        conn.execute(sa.text(f"""
            INSERT INTO near_matches (tenant_id, direction, shopify_customer_id, pos_customer_id, matched_on, differs,
                                      decision, created_at)
            SELECT {tenant_of}, 'shopify_to_pos', ({CUSTOMER_BASE} + c)::text, 'q' || c, 'phone', 'email', 'new', now()
            FROM generate_series(0, least(499, {customers - 1})) AS c"""))
        conn.execute(sa.text(f"""
            INSERT INTO shopify_duplicate_scans (tenant_id, status, groups, requested_at, scanned_at)
            SELECT t.id, 'done', (SELECT jsonb_agg(jsonb_build_object(
                     'customers', jsonb_build_array(({CUSTOMER_BASE} + 2 * g)::text,
                                                    ({CUSTOMER_BASE} + 2 * g + 1)::text),
                     'reason', 'email', 'blockers', CASE WHEN g % 4 = 0 THEN '["GIFT_CARDS"]' ELSE '[]' END::jsonb,
                     'limits', '[]'::jsonb, 'mergeable', g % 4 <> 0)) FROM generate_series(1, {DUPLICATE_GROUPS}) AS g),
                   now(), now()
            FROM tenants AS t"""))
    with session_scope(database_url) as session:
        fold_deltas(session)  # as beat does every few seconds: the maintained counts the tenants page reads
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("VACUUM ANALYZE"))
    engine.dispose()
    sample = customers // 2
    return {"shopify_id": str(CUSTOMER_BASE + sample), "email": f"c{sample}@example.com",
            "phone": f"(613) {sample % 10000000:07d}"[:9] + "-" + f"{sample % 10000000:07d}"[3:],
            "tenant": ["bench", "bench2", "bench3"][sample % TENANTS], "failed_job": "100"}


def pages(sample: dict[str, str]) -> dict[str, str]:
    return {
        "tenants": "/console/tenants",
        "failed (all)": "/console/failed",
        "failed (tenant + error class)": "/console/failed?tenant=bench&error_class=missing_fields",
        "search by phone": f"/console/customers?q={sample['phone']}",
        "search by email": f"/console/customers?q={sample['email']}",
        "search by Shopify id": f"/console/customers?q={sample['shopify_id']}",
        "a customer's story": f"/console/customers/{sample['tenant']}/{sample['shopify_id']}",
        "job": f"/console/jobs/{sample['failed_job']}",
        "matches": "/console/matches",
        "audit": "/console/audit",
    }


def fetch(session: requests.Session, base: str, path: str, check: str | None = None) -> float:
    start = time.perf_counter()
    response = session.get(base + path, timeout=30)
    elapsed = (time.perf_counter() - start) * 1000
    if response.status_code != 200 or (check and check not in response.text):
        raise RuntimeError(f"{path}: HTTP {response.status_code}, {check!r} not on the page")
    return elapsed


def run(jobs: int = 1_000_000, repeat: int = 20, seconds: float = 10.0, rate: float = 100.0, small: bool = False,
        progress: Callable[[str], None] | None = None, workers: int = WORKERS, console_rate: float = 0.0,
        layout: str = "separate", rounds: int = 3, console_nice: int = CONSOLE_NICE) -> list[Result]:
    """`layout`: `separate` (the console as its own receiver, as the deployments run it) or `shared` (the
    console on the webhook receiver). The webhook phases alternate alone / with the console for `rounds`
    rounds (ABBA, so a drift of the machine weighs on both) and each condition's latencies are pooled."""
    say = progress or (lambda _text: None)
    if small:
        jobs, repeat, seconds, rounds = 50_000, 10, 5.0, 1
    results: list[Result] = []
    console_env = {"POSSYNC_CONSOLE_BASIC_AUTH": ":".join(LOGIN)}
    with contextlib.ExitStack() as servers:
        env = servers.enter_context(environment(workers, variables=console_env if layout == "shared" else None))
        say(f"loading {jobs:,} jobs ...")
        started = time.monotonic()
        sample = load(env.database_url, jobs)
        loaded = time.monotonic() - started
        console = env if layout == "shared" else servers.enter_context(
            another_receiver(env, CONSOLE_WORKERS, CONSOLE_THREADS, console_env, console_nice))
        session = requests.Session()
        session.auth = LOGIN
        checks = {"a customer's story": "timeline", "search by phone": sample["shopify_id"],
                  "search by email": sample["shopify_id"], "search by Shopify id": sample["shopify_id"]}
        for name, path in pages(sample).items():
            fetch(session, console.base_url, path, checks.get(name))  # warm: the first request of a process
            times = [fetch(session, console.base_url, path, checks.get(name)) for _ in range(repeat)]
            p95 = percentile(times, 95)
            results.append(Result(f"console: {name}", p95, "ms", f"< {TARGET_MS:.0f} ms", p95 < TARGET_MS,
                                  f"p95 of {repeat} (median {percentile(times, 50):.1f} ms), {jobs:,} jobs "
                                  f"(loaded in {loaded:.0f} s)"))
        alone: list[Measured] = []
        busy: list[Measured] = []
        fetched: list[float] = []
        for index in range(2 * rounds):
            with_console = index % 4 in (1, 2)  # alone, busy, busy, alone, alone, busy, ...
            say(f"webhooks paced at {rate:.0f}/s for {seconds:.0f} s, {'with' if with_console else 'without'} "
                f"an operator on the console ({index + 1}/{2 * rounds}) ...")
            browsing = operator(console.base_url, sample, console_rate) if with_console else contextlib.nullcontext([])
            with browsing as pages_fetched:
                measured = run_phase(env.port, Phase("webhook", seconds, rate=rate), f"r{index}")
            fetched.extend(pages_fetched)
            (busy if with_console else alone).append(measured)
    pace = f"at {console_rate:g}/s" if console_rate else "back to back"
    where = ("on the webhook receiver (shared)" if layout == "shared" else
             f"on its own receiver ({CONSOLE_WORKERS} process x {CONSOLE_THREADS} threads"
             f"{f', nice {console_nice}' if console_nice else ''})")
    alone_p99 = percentile([x for m in alone for x in m.latencies_ms], 99)
    busy_p99 = percentile([x for m in busy for x in m.latencies_ms], 99)
    same = busy_p99 <= max(alone_p99 * 1.5, alone_p99 + 20)
    failed = sum(m.other for m in alone + busy)
    results.append(Result(
        f"receiver p99 at {rate:.0f}/s, console {pace} {where}", busy_p99, "ms",
        "unchanged (within 1.5x or +20 ms)", same and failed == 0,
        f"pooled over {rounds} x {seconds:.0f} s per condition, alternated: alone p99 {alone_p99:.1f} ms "
        f"(rounds {', '.join(f'{m.p99_ms:.1f}' for m in alone)}), with the console "
        f"(rounds {', '.join(f'{m.p99_ms:.1f}' for m in busy)}); {len(fetched)} pages fetched; "
        f"{failed} webhooks not 2xx; {jobs:,} jobs"))
    return results


def operator(base: str, sample: dict[str, str], console_rate: float) -> AbstractContextManager[list[float]]:
    """Console pages fetched in turn in a thread while the block runs (0: back to back); yields their times."""
    reader = requests.Session()
    reader.auth = LOGIN
    paths = itertools.cycle(pages(sample).values())
    return paced(lambda: fetch(reader, base, next(paths)), console_rate)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.console", description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=100.0, help="paced webhooks per second")
    parser.add_argument("--workers", type=int, default=WORKERS, help="gunicorn worker processes")
    parser.add_argument("--console-rate", type=float, default=0.0, help="console pages a second (0: back to back)")
    parser.add_argument("--layout", choices=["separate", "shared"], default="separate",
                        help="the console on its own receiver (as deployed) or on the webhook receiver")
    parser.add_argument("--rounds", type=int, default=3, help="alternated rounds of webhooks alone / with the console")
    parser.add_argument("--console-nice", type=int, default=CONSOLE_NICE, help="nice of the console's own receiver")
    args = parser.parse_args(argv)
    print(render(run(args.jobs, args.repeat, args.seconds, args.rate, workers=args.workers,
                     console_rate=args.console_rate, layout=args.layout, rounds=args.rounds,
                     console_nice=args.console_nice,
                     progress=lambda text: print(text, file=sys.stderr, flush=True))))


if __name__ == "__main__":
    main()
