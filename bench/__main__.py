"""`python -m bench [NAME...]`: run the benchmarks and print one Markdown table plus the machine they ran on.

Every module in `MODULES` has a `run()` returning `Result` rows. A module that crashes becomes one
MISS row carrying its error, so one broken benchmark never hides the others' numbers. Progress goes
to stderr; the table (for the README) to stdout. Needs PostgreSQL and Redis on 127.0.0.1 (see
`testing.stack` for the POSSYNC_BENCH_* overrides); each benchmark makes and removes its own database,
Redis key prefix and worker processes.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import os
import platform
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path

from bench.table import Result, render

# Name -> module, in running order: the quick, exact ones first, the long timed ones last.
MODULES: dict[str, str] = {
    "rules": "bench.rules",
    "adapters": "bench.adapters",
    "requests_per_sync": "bench.requests_per_sync",
    "crm": "bench.crm",
    "pos_index": "bench.pos_index",
    "intake": "bench.intake",
    "pipeline": "bench.pipeline",
    "redis_calls": "bench.redis_calls",
    "ratelimit": "bench.ratelimit",
    "onboarding": "bench.onboarding",
    "shipstation": "bench.shipstation",
    "corpus": "bench.corpus",
    "console": "bench.console",
    "fairness": "bench.fairness",
    "fairness_flood": "bench.fairness_flood",
    "recovery": "bench.recovery",
    "soak": "bench.soak",
    "scale": "bench.scale",
    "flood": "bench.flood",
}


def machine_line() -> str:
    """nproc, CPU model, Python version, and the load when the run started (other programs skew timings)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = ", ".join(f"{v:.2f}" for v in os.getloadavg()) if hasattr(os, "getloadavg") else "n/a"
    return (f"Machine: {cores} cores (nproc), {model}, Python {platform.python_version()}, "
            f"load average at start {load}")


def crashed(name: str, exc: BaseException) -> Result:
    where = traceback.extract_tb(exc.__traceback__)[-1] if exc.__traceback__ else None
    at = f" at {Path(where.filename).name}:{where.lineno}" if where else ""
    message = " ".join(str(exc).split())[:300]
    return Result(f"{name}: crashed", 0.0, "", "runs to the end", False, f"{type(exc).__name__}{at}: {message}")


def run_module(name: str, say: Callable[[str], None], small: bool = False) -> list[Result]:
    """One module's rows, or a MISS row naming the error (import errors included)."""
    try:
        module = importlib.import_module(MODULES[name])
        run = module.run
        parameters = inspect.signature(run).parameters
        options: dict[str, object] = {"progress": say} if "progress" in parameters else {}
        if small and "small" in parameters:
            options["small"] = True
        return list(run(**options))
    except Exception as exc:  # reported as a row: the other benchmarks still run
        traceback.print_exc(file=sys.stderr)
        return [crashed(name, exc)]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("names", nargs="*", metavar="NAME", help=f"benchmarks to run (default: all): "
                                                                 f"{', '.join(MODULES)}")
    parser.add_argument("--small", action="store_true",
                        help="the smoke-test sizes of the benchmarks that have them (corpus: under a minute)")
    args = parser.parse_args(argv)
    unknown = [n for n in args.names if n not in MODULES]
    if unknown:
        parser.error(f"unknown benchmark {', '.join(unknown)}; choose from {', '.join(MODULES)}")
    names = args.names or list(MODULES)

    def say(text: str) -> None:
        print(f"  {text}", file=sys.stderr, flush=True)

    machine = machine_line()
    results: list[Result] = []
    started = time.monotonic()
    for name in names:
        print(f"[{time.monotonic() - started:6.0f} s] {name} ...", file=sys.stderr, flush=True)
        begun = time.monotonic()
        rows = run_module(name, say, args.small)
        results += rows
        misses = sum(not r.passed for r in rows)
        print(f"[{time.monotonic() - started:6.0f} s] {name}: {len(rows)} rows, {misses} missed, "
              f"{time.monotonic() - begun:.0f} s", file=sys.stderr, flush=True)
    print(machine)
    print(f"Suite: {', '.join(names)} in {time.monotonic() - started:.0f} s")
    print()
    print(render(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
