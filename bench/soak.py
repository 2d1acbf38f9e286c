"""Worker memory over a long run: RSS of each worker process while many syncs go through the fakes.

One `possync worker --concurrency 2` and three tenants (one per POS kind, unthrottled fakes, the limiter
lifted); new-customer syncs are queued in batches of `BATCH`, spread over the tenants, so the backlog
stays short and the worker is busy throughout. Every `SAMPLE_SECONDS` the resident set size (VmRSS)
of the worker's main process and of each pool child is read from /proc, with the syncs finished so
far. Reported: each process's RSS after the warm-up (the first `WARMUP_SHARE` of the syncs) and at the
end, and the children's growth per 1,000 syncs between the two.

Full size (the issue's): `python -m bench soak` (200,000 syncs). `python -m bench soak --small` runs
5,000. `POSSYNC_BENCH_SOAK_SYNCS=N` sets the size, `POSSYNC_BENCH_SOAK_SECONDS=S` stops the run after S
seconds with what it reached (the row then says how many of the syncs finished).
`POSSYNC_BENCH_SOAK_TENANTS_PER_POS=N` (default 1) spreads the syncs over N tenants of each POS kind: each
tenant has fakes of its own, whose searches scan the customers they hold (README, "worker memory").

Also reported: where the pool children's time went (/proc/PID/schedstat): on a CPU, runnable but
waiting for one (the machine's other programs), or blocked (PostgreSQL, Redis, the fakes, waits).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench.cleanup import exit_on_signals
from bench.table import Result, render
from testing.stack import KINDS, Shop, Stack, add_customer, finished_count, queue_syncs, stack

SYNCS = 200_000
SYNCS_SMALL = 5_000
BATCH = 200
SAMPLE_SECONDS = 5.0
WARMUP_SHARE = 0.1
WORKER_PROCESSES = 2
GROWTH_TARGET_MB_PER_1000 = 0.5
TIMEOUT_SECONDS_PER_SYNC = 0.5


@dataclass(frozen=True)
class Sample:
    at: float
    finished: int
    rss_mb: dict[int, float]  # pid -> RSS (MB); the main process first


def _rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        return None
    return None


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return sorted(found)


def _schedstat(pids: list[int]) -> dict[int, tuple[float, float]]:
    """pid -> (seconds on a CPU, seconds runnable but waiting for one), from /proc/PID/schedstat."""
    found = {}
    for pid in pids:
        try:
            on_cpu, waiting, _slices = Path(f"/proc/{pid}/schedstat").read_text().split()
        except (OSError, ValueError):
            continue
        found[pid] = (int(on_cpu) / 1e9, int(waiting) / 1e9)
    return found


def _time_split(before: dict[int, tuple[float, float]], after: dict[int, tuple[float, float]],
                seconds: float) -> str:
    """The children's wall time split into on a CPU / waiting for a CPU / blocked, in percent."""
    pids = [p for p in after if p in before]
    if not pids or seconds <= 0:
        return "n/a"
    on_cpu = sum(after[p][0] - before[p][0] for p in pids) / len(pids)
    waiting = sum(after[p][1] - before[p][1] for p in pids) / len(pids)
    blocked = max(0.0, seconds - on_cpu - waiting)
    return (f"{on_cpu / seconds:.0%} on a CPU, {waiting / seconds:.0%} runnable waiting for a CPU, "
            f"{blocked / seconds:.0%} blocked")


def sample(main_pid: int, finished: int) -> Sample:
    rss = {p: r for p in [main_pid, *_children(main_pid)] if (r := _rss_mb(p)) is not None}
    return Sample(time.time(), finished, rss)


def _queue(s: Stack, shops: list[Shop], first: int, count: int) -> None:
    """Syncs number `first` .. `first + count - 1`, dealt over the tenants in turn."""
    for index, shop in enumerate(shops):
        numbers = range(first + index, first + count, len(shops))
        queue_syncs(s.database_url, shop.tenant_id, [add_customer(shop, i, tag="soak") for i in numbers])


def run(progress: Callable[[str], None] | None = None, small: bool = False) -> list[Result]:
    say = progress or (lambda _text: None)
    syncs = SYNCS_SMALL if small else int(os.environ.get("POSSYNC_BENCH_SOAK_SYNCS", SYNCS))
    samples: list[Sample] = []
    with exit_on_signals(), stack("soak") as s:
        per_kind = int(os.environ.get("POSSYNC_BENCH_SOAK_TENANTS_PER_POS", "1"))
        shops = [s.add_shop(kind) for _ in range(per_kind) for kind in KINDS]
        for shop in shops:
            s.lift_limiter(shop)
        worker = s.start_worker("--concurrency", str(WORKER_PROCESSES))
        assert worker.proc is not None
        say(f"soak: {syncs:,} syncs over {len(shops)} tenants, RSS sampled every {SAMPLE_SECONDS:g} s")
        queued, started, next_sample = 0, time.monotonic(), 0.0
        deadline = started + float(os.environ.get("POSSYNC_BENCH_SOAK_SECONDS", syncs * TIMEOUT_SECONDS_PER_SYNC + 120))
        children_before = _schedstat(_children(worker.proc.pid))
        while True:
            done = finished_count(s.database_url)
            if done >= syncs or time.monotonic() > deadline:
                break
            if queued < syncs and queued - done < BATCH:
                count = min(BATCH, syncs - queued)
                _queue(s, shops, queued, count)
                queued += count
            if time.monotonic() >= next_sample:
                samples.append(sample(worker.proc.pid, done))
                next_sample = time.monotonic() + SAMPLE_SECONDS
                if len(samples) % 12 == 0:
                    say(f"soak: {done:,} finished, RSS MB {', '.join(f'{v:.0f}' for v in samples[-1].rss_mb.values())}")
            time.sleep(0.5)
        done = finished_count(s.database_url)
        samples.append(sample(worker.proc.pid, done))
        seconds = time.monotonic() - started
        split = _time_split(children_before, _schedstat(_children(worker.proc.pid)), seconds)
    return _results(samples, syncs, done, seconds, split, len(shops))


def _results(samples: list[Sample], syncs: int, done: int, seconds: float, split: str = "n/a",
             tenants: int = 3) -> list[Result]:
    # The warm-up is a share of what finished, so a run stopped at its time limit still has one.
    warm = next((x for x in samples if x.finished >= done * WARMUP_SHARE), samples[0])
    last = samples[-1]
    main = next(iter(last.rss_mb))
    children = [p for p in last.rss_mb if p != main and p in warm.rss_mb]
    growth = max(((last.rss_mb[p] - warm.rss_mb[p]) / max(1, last.finished - warm.finished) * 1000 for p in children),
                 default=float("nan"))
    curve = "; ".join(f"{x.finished:,}: " + "/".join(f"{v:.0f}" for v in x.rss_mb.values())
                      for x in _spread(samples, 12))
    note = (f"possync worker --concurrency {WORKER_PROCESSES}; {done:,} of {syncs:,} new-customer syncs over "
            f"{tenants} tenants (R-Series, X-Series, Heartland fakes, unthrottled) in {seconds:.0f} s; "
            f"RSS MB main/children by syncs finished: {curve}; children replaced during the run: "
            f"{len([p for p in last.rss_mb if p != main and p not in warm.rss_mb])}; {done / seconds:.1f} syncs/s; "
            f"pool children's time: {split}")
    reached = f"{syncs:,} syncs" if done >= syncs else f"{done:,} of {syncs:,} syncs (stopped at the time limit)"
    return [Result(f"soak: worker child RSS growth after warm-up, {reached}", growth, "MB per 1,000 syncs",
                   f"<= {GROWTH_TARGET_MB_PER_1000:g}", done >= syncs and growth <= GROWTH_TARGET_MB_PER_1000, note)]


def _spread(samples: list[Sample], count: int) -> list[Sample]:
    """About `count` samples evenly over the run, the first and last included."""
    if len(samples) <= count:
        return samples
    step = (len(samples) - 1) / (count - 1)
    return [samples[round(i * step)] for i in range(count)]


if __name__ == "__main__":
    print(render(run(lambda text: print(text, file=sys.stderr, flush=True), small="--small" in sys.argv)))
