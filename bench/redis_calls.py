"""Redis commands per webhook sync: what the hot path asks of Redis, counted rather than timed.

On a shared machine the pipeline's latency and throughput move with other programs' load; the number
of Redis round trips a sync costs does not. One R-Series tenant (unthrottled fakes), the receiver in
this process and one `possync worker --concurrency 2`; after `WARMUP` syncs, `SYNCS` `orders/create`
webhooks for new customers are sent one at a time while Redis's MONITOR stream is read, and every
command naming this run's key prefix is counted: top-level commands (each a round trip from a client)
apart from the commands Lua scripts run inside Redis. The worker's idle ticks during the run are
included, so the count per sync also depends on how long each sync takes.

`python -m bench redis_calls` (MONITOR slows Redis for everyone while it runs: a short run).
"""

from __future__ import annotations

import sys
import threading
import time
from collections import Counter
from collections.abc import Callable

import redis

from bench.pipeline import _one_sync
from bench.table import Result, render
from testing.stack import REDIS_URL, stack

SYNCS = 40
WARMUP = 5


def _count(prefix: str, counts: Counter[str], stop: threading.Event) -> None:
    """Count MONITOR's commands under `prefix`: top-level by name (scripts by their SHA), and in-Lua ones."""
    client = redis.Redis.from_url(REDIS_URL)
    with client.monitor() as monitor:
        for command in monitor.listen():
            if stop.is_set():
                break
            text = command["command"]
            if prefix not in text:
                continue
            name = text.split()[0].upper()
            if command.get("client_type") == "lua":
                counts["(in Lua)"] += 1
            else:
                counts[f"{name} {text.split()[1][:8]}" if name == "EVALSHA" else name] += 1


def run(progress: Callable[[str], None] | None = None) -> list[Result]:
    say = progress or (lambda _text: None)
    with stack("redis-calls") as s:
        s.start_receiver()
        shop = s.add_shop("lightspeed-r")
        s.lift_limiter(shop)
        s.start_worker("--concurrency", "2")
        for i in range(WARMUP):  # loads the scripts into Redis and warms the worker's caches
            _one_sync(s, shop, i, i + 1)
        counts: Counter[str] = Counter()
        stop = threading.Event()
        watcher = threading.Thread(target=_count, args=(s.redis_prefix.rstrip(":"), counts, stop), daemon=True)
        watcher.start()
        time.sleep(0.5)  # MONITOR attached
        counts.clear()
        say(f"redis_calls: {SYNCS} webhooks one at a time, counting Redis commands ...")
        started = time.monotonic()
        failed = sum(_one_sync(s, shop, i, i + 1) is None for i in range(WARMUP, WARMUP + SYNCS))
        seconds = time.monotonic() - started
        stop.set()
        seen = dict(counts)
    in_lua = seen.pop("(in Lua)", 0)
    top = sum(seen.values())
    biggest = ", ".join(f"{name} {n / SYNCS:.1f}" for name, n in sorted(seen.items(), key=lambda kv: -kv[1])[:8])
    return [Result("Redis: top-level commands per webhook sync", top / SYNCS, "", "(cause)", failed == 0,
                   f"{SYNCS} orders/create one at a time on R-Series, possync worker --concurrency 2, {seconds:.1f} s "
                   f"(idle ticks included); {in_lua / SYNCS:.1f} more run inside Lua scripts; most: {biggest}; "
                   f"{failed} failed")]


if __name__ == "__main__":
    print(render(run(lambda text: print(text, file=sys.stderr, flush=True))))
