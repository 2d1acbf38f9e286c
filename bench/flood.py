"""Forged X-Series webhooks against the real stack, each part in its own process (issue 20).

What runs: the receiver under gunicorn (`possync.entry.web.gunicorn_conf`, the deployed settings), one
`possync worker --concurrency 2`, and two tenants whose live Shopify orders the worker syncs: an
X-Series tenant (the one flooded) and an R-Series one. The fakes serve from this process; the forged
posts come from another (`python -m bench.flood --forge`), so neither the flood's CPU nor its
interpreter lock is shared with the receiver, the worker or the fakes.

Two phases of the same length and the same live traffic: `orders/create` webhooks for new customers,
the tenants in turn, one every `LIVE_INTERVAL_SECONDS` (a pace the worker keeps up with, so latency
shows delay rather than a backlog growing), `LIVE_ORDERS` per tenant. Quiet: nothing else. Flood: the
forger posts `FORGED` X-Series hints with guessed tokens (a customer.update each, as a scanner would)
from the phase's first order, as fast as it can, and keeps on after its last one. Measured per tenant
and phase: webhook -> POS latency (delivery stored -> job finished, as `possync_webhook_to_pos_seconds`),
p50 / p99, and the X-Series fake's requests per live sync; and what the forged posts left (stored
hints, jobs, answers).

`python -m bench flood` (10,000 forged posts; `--small` 1,000).
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import requests
import sqlalchemy as sa

from bench.cleanup import exit_on_signals
from bench.table import Result, percentile, render
from testing.stack import (
    REPO,
    Shop,
    Stack,
    WorkerProcess,
    add_customer,
    finished_count,
    order_webhook,
    process_group_cpu,
    stack,
    wait_for,
)

FORGED = 10_000
FORGED_SMALL = 1_000
FORGER_THREADS = 4
LIVE_ORDERS = 50  # per tenant and phase
LIVE_INTERVAL_SECONDS = 1.0
WORKER_PROCESSES = 2
UNCHANGED_RATIO = 2.0  # p99 during the flood within twice the quiet one: what this shared machine can tell


def _start_receiver(s: Stack) -> tuple[str, int]:
    """gunicorn with the deployed settings on a free port, stopped with the stack's workers; its URL and
    process group."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [str(Path(sys.executable).parent / "gunicorn"), "-c", "python:possync.entry.web.gunicorn_conf",
               "--bind", f"127.0.0.1:{port}", "possync.entry.web.wsgi:app"]
    process = WorkerProcess(s.env, command=command, log_dir=s.log_dir)
    s.workers.append(process.start())  # Stack.close stops it, whatever happens
    url = f"http://127.0.0.1:{port}"

    def up() -> bool:
        if process.proc is not None and process.proc.poll() is not None:
            raise RuntimeError(f"gunicorn exited: {process.tail()}")
        try:
            return requests.get(f"{url}/healthz", timeout=1).status_code == 200
        except requests.RequestException:
            return False

    wait_for(up, 60, 0.2, "gunicorn to answer /healthz")
    assert process.proc is not None
    return url, process.proc.pid


def _latencies(database_url: str, tenant_id: int, after_job: int) -> list[float]:
    """Seconds from the delivery stored to the job finished, for the tenant's succeeded jobs after `after_job`."""
    from possync.models.db import get_engine

    query = sa.text("SELECT EXTRACT(EPOCH FROM (j.finished_at - e.received_at)) FROM sync_jobs j "
                    "JOIN inbound_events e ON e.id = j.event_id WHERE j.tenant_id = :tenant AND j.id > :after "
                    "AND j.status = 'succeeded'")
    with get_engine(database_url).connect() as conn:
        return [float(v) for v in conn.execute(query, {"tenant": tenant_id, "after": after_job}).scalars()]


def _last_job(database_url: str) -> int:
    from possync.models.db import get_engine

    with get_engine(database_url).connect() as conn:
        return int(conn.execute(sa.text("SELECT coalesce(max(id), 0) FROM sync_jobs")).scalar_one())


class _Live:
    """Live orders for each shop in turn, each to a new customer; counts what it sent per shop."""

    def __init__(self, shops: list[Shop], customers: dict[str, list[str]]) -> None:
        self.shops, self.customers = shops, customers
        self.sent: Counter[str] = Counter()

    def send(self, rounds: int) -> None:
        """`rounds` orders per shop."""
        for _ in range(rounds):
            for shop in self.shops:
                i = self.sent[shop.name]
                answer = shop.send("orders/create", order_webhook(self.customers[shop.name][i], i, tag=shop.name))
                assert answer.status_code == 200, answer.text
                self.sent[shop.name] += 1
                time.sleep(LIVE_INTERVAL_SECONDS)


# Per shop name: (latencies in s, POS requests per sync, syncs sent).
Phase = dict[str, tuple[list[float], float, int]]


def _phase(s: Stack, live: _Live, rounds: int, sent: Callable[[], None] = lambda: None) -> Phase:
    """One phase's live orders, waited for; per shop: latencies (s) and the POS fake's requests per sync.
    `sent()` is called once the last order is sent."""
    after = _last_job(s.database_url)
    before = {shop.name: (len(shop.pos.vendor_requests()), finished_count(s.database_url, shop.tenant_id))
              for shop in live.shops}
    target = dict(live.sent)
    live.send(rounds)
    sent()
    for shop in live.shops:
        expected = before[shop.name][1] + live.sent[shop.name] - target.get(shop.name, 0)
        wait_for(lambda shop=shop, expected=expected: finished_count(s.database_url, shop.tenant_id) >= expected,
                 600, 0.5, f"{shop.name}'s live syncs to finish")
    found: Phase = {}
    for shop in live.shops:
        syncs = live.sent[shop.name] - target.get(shop.name, 0)
        requests_made = len(shop.pos.vendor_requests()) - before[shop.name][0]
        found[shop.name] = (_latencies(s.database_url, shop.tenant_id, after), requests_made / max(1, syncs), syncs)
    return found


def _start_forger(receiver: str, tenant: str, count: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "bench.flood", "--forge", receiver, tenant, str(count)],
                            cwd=REPO, stdout=subprocess.PIPE, start_new_session=True)


def run(progress: Callable[[str], None] | None = None, small: bool = False) -> list[Result]:
    say = progress or (lambda _text: None)
    forged = FORGED_SMALL if small else FORGED
    forger: subprocess.Popen[bytes] | None = None
    with exit_on_signals(), stack("flood") as s:
        try:
            receiver, gunicorn = _start_receiver(s)
            flooded, other = s.add_shop("lightspeed-x"), s.add_shop("lightspeed-r")
            shops = [flooded, other]
            for shop in shops:
                shop.receiver_url = receiver
                s.lift_limiter(shop)
            total = 2 * LIVE_ORDERS + 3
            customers = {shop.name: [add_customer(shop, i, tag=shop.name) for i in range(total)] for shop in shops}
            s.start_worker("--concurrency", str(WORKER_PROCESSES))
            live = _Live(shops, customers)
            _phase(s, live, 3)  # warm: the imports, the first connections
            say(f"flood: quiet phase, {LIVE_ORDERS} live orders per tenant")
            quiet = _phase(s, live, LIVE_ORDERS)
            events_before = _hints(s, flooded.tenant_id)
            say(f"flood: {forged:,} forged X-Series posts from another process, the same live orders meanwhile")
            started, cpu = time.monotonic(), process_group_cpu(gunicorn)
            forger = _start_forger(receiver, flooded.name, forged)
            flooding: list[bool] = []  # every live order of the phase went in during the flood
            during = _phase(s, live, LIVE_ORDERS, lambda: flooding.append(forger is not None and forger.poll() is None))
            out, _ = forger.communicate(timeout=900)
            seconds, cpu = time.monotonic() - started, process_group_cpu(gunicorn) - cpu
            report = json.loads(out.decode().strip().splitlines()[-1])
            answers = Counter({int(k): v for k, v in report["answers"].items()})
            stored = _hints(s, flooded.tenant_id) - events_before
        finally:
            if forger is not None and forger.poll() is None:
                forger.kill()
                forger.wait()
    covered = flooding == [True]
    return _rows(flooded, other, quiet, during, answers, stored, forged, seconds, cpu, report["cpu"], covered)


def _hints(s: Stack, tenant_id: int) -> int:
    """X-Series hints the tenant has stored (events from the POS, not from Shopify)."""
    from possync.models.db import get_engine

    with get_engine(s.database_url).connect() as conn:
        return int(conn.execute(sa.text("SELECT count(*) FROM inbound_events WHERE tenant_id = :t "
                                        "AND source <> 'shopify'"), {"t": tenant_id}).scalar_one())


def _rows(flooded: Shop, other: Shop, quiet: Phase, during: Phase, answers: Counter[int],
          stored: int, forged: int, seconds: float, cpu: float, forger_cpu: float, covered: bool) -> list[Result]:
    rows = [Result(f"flood: {forged:,} forged X-Series posts to gunicorn, hints stored", stored, "rows", "0",
                   stored == 0 and answers == Counter({404: forged}),
                   f"answers {dict(answers)}; {forged / seconds:,.0f} posts/s from a separate process "
                   f"({FORGER_THREADS} threads) for {seconds:.0f} s; gunicorn's CPU meanwhile {cpu:.0f} s, "
                   f"{cpu / forged * 1000:.1f} ms per forged post (the live deliveries included); the forger's own "
                   f"CPU {forger_cpu:.0f} s (on this machine too); still flooding when the last live order went: "
                   f"{covered}; "
                   f"load average {os.getloadavg()[0]:.1f} at the end")]
    for shop, label in ((flooded, "the flooded X-Series tenant"), (other, "another tenant (R-Series)")):
        q_latency, q_requests, q_syncs = quiet[shop.name]
        d_latency, d_requests, d_syncs = during[shop.name]
        q99, d99 = percentile(q_latency, 99), percentile(d_latency, 99)
        rows.append(Result(f"flood: {label}, live webhook -> POS p99 during the flood", d99, "s",
                           f"<= {UNCHANGED_RATIO:g} x quiet ({UNCHANGED_RATIO * q99:.2f} s)",
                           d99 <= UNCHANGED_RATIO * q99 and len(d_latency) == d_syncs,
                           f"quiet: {len(q_latency)} of {q_syncs} syncs, p50 {percentile(q_latency, 50):.2f} s, "
                           f"p99 {q99:.2f} s; during: {len(d_latency)} of {d_syncs}, "
                           f"p50 {percentile(d_latency, 50):.2f} s"))
        rows.append(Result(f"flood: {label}, POS requests per live sync during the flood", d_requests, "requests",
                           f"= quiet ({q_requests:.2f})", abs(d_requests - q_requests) < 0.5,
                           "the POS fake's request log over each phase, divided by the live syncs"))
    return rows


# --- the forger (its own process) -------------------------------------------------------------------------------
def forge(receiver: str, tenant: str, count: int) -> Counter[int]:
    """`count` X-Series customer.update posts with random tokens, from `FORGER_THREADS` threads; answers by status."""
    from possync.models import webhook_tokens

    answers: Counter[int] = Counter()
    lock = threading.Lock()
    share = [count // FORGER_THREADS + (i < count % FORGER_THREADS) for i in range(FORGER_THREADS)]

    def post(n: int) -> None:
        session = requests.Session()
        for _ in range(n):
            path = webhook_tokens.url_path(tenant, secrets.token_urlsafe(32))
            payload = {"type": "customer.update", "payload": json.dumps({"id": str(uuid.uuid4())})}
            status = session.post(receiver + path, data=payload, timeout=30).status_code
            with lock:
                answers[status] += 1

    threads = [threading.Thread(target=post, args=(n,)) for n in share]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


if __name__ == "__main__":
    if sys.argv[1:2] == ["--forge"]:
        answers = forge(sys.argv[2], sys.argv[3], int(sys.argv[4]))
        used = os.times()
        print(json.dumps({"answers": answers, "cpu": used.user + used.system}))
    else:
        print(render(run(lambda text: print(text, file=sys.stderr, flush=True), small="--small" in sys.argv)))
