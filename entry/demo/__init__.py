"""`possync demo`: the whole pipeline on the embedded default, against the built-in sandboxes.

One process holds everything: a SQLite file in the work folder, the in-memory broker with a worker
thread, fakeredis for the limiter and locks, the receiver on a local port, and the fakes of Shopify
and the three POS. A scripted day of events runs through it (`script.py`), then a table per POS
(`report.py`) says what possync did. Exit status 0 means every scripted expectation held.

Modules: `stack` (the embedded runtime), `shops` (tenants and their sandboxes), `script` (the day),
`progress` (the bar), `report` (the closing table), `keep` (`--keep-running`).
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

from tqdm.contrib.logging import logging_redirect_tqdm

from possync.entry.demo import report
from possync.entry.demo.crm import CrmShop, check_crm_day, open_crm_shop, run_crm_day
from possync.entry.demo.keep import keep_serving
from possync.entry.demo.progress import JobProgress, PipelineStalledError
from possync.entry.demo.script import Day
from possync.entry.demo.shops import KINDS, DemoShop, open_shop
from possync.entry.demo.stack import DB_FILENAME, EmbeddedStack

SUMMARY_FILENAME = "demo-summary.json"


def _out(line: str = "") -> None:
    print(line, flush=True)


def _workdir(workdir: str | None) -> Path:
    """The given folder (made if missing; an earlier demo database in it is replaced) or a new temp one."""
    if workdir is None:
        return Path(tempfile.mkdtemp(prefix="possync-demo-"))
    path = Path(workdir).expanduser().resolve()
    path.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm"):
        (path / f"{DB_FILENAME}{suffix}").unlink(missing_ok=True)
    return path


def run_demo(keep_running: bool = False, workdir: str | None = None) -> int:
    """Run the scripted day; 0 when every expectation held ("green"), 1 otherwise."""
    started = time.monotonic()
    folder = _workdir(workdir)
    _out(f"possync demo: working in {folder}")
    stack = EmbeddedStack(folder)
    shops: list[DemoShop] = []
    crm_shop: CrmShop | None = None
    try:
        stack.start()
        shops = _open_shops(stack)
        crm_shop = _open_crm_shop(stack)
        ok = _play(stack, shops, crm_shop, folder, started)
        if keep_running:
            keep_serving(stack, shops)
        return 0 if ok else 1
    finally:
        for shop in shops:
            shop.stop()
        if crm_shop is not None:
            crm_shop.stop()
        stack.stop()


def _open_shops(stack: EmbeddedStack) -> list[DemoShop]:
    assert stack.receiver is not None
    return [open_shop(kind, stack.database_url, stack.secret_key, stack.receiver.url) for kind in KINDS]


def _open_crm_shop(stack: EmbeddedStack) -> CrmShop:
    assert stack.receiver is not None
    return open_crm_shop(stack.database_url, stack.secret_key, stack.receiver.url)


def _play(stack: EmbeddedStack, shops: list[DemoShop], crm_shop: CrmShop, folder: Path, started: float) -> bool:
    progress = JobProgress(stack.database_url)
    day = Day(shops, stack.database_url, progress)
    problem = None
    try:
        with logging_redirect_tqdm():
            day.run()
            run_crm_day(crm_shop, progress, day.checks)
    except PipelineStalledError as exc:
        problem = f"the pipeline stalled: {exc}"
    finally:
        progress.phase("done")
        progress.close()
    rows = report.collect(day)
    crm_row = report.crm_row(check_crm_day(stack.database_url, day.checks), crm_shop)
    rows_shown = [*rows, crm_row]
    elapsed = time.monotonic() - started
    _out()
    for line in report.render_table(rows_shown):
        _out(line)
    for line in report.render_story(day, rows):
        _out(line)
    for line in report.render_failures([crm_row]):
        _out(line)
    for line in report.render_checks(day.checks):
        _out(line)
    green = problem is None and all(c.ok for c in day.checks)
    if problem:
        _out(f"NOT MET: {problem}")
    summary = {"green": green, "seconds": round(elapsed, 1), "database_url": stack.database_url,
               "pos": [r.to_json() for r in rows], "crm": crm_row.to_json(),
               "checks": [{"pos": c.shop, "what": c.what, "ok": c.ok} for c in day.checks]}
    (folder / SUMMARY_FILENAME).write_text(json.dumps(summary, indent=2, sort_keys=True))
    _out()
    _out(f"{'GREEN' if green else 'RED'}: scripted day finished in {elapsed:.1f}s")
    _out("The same numbers from the database (status adds both directions up; failed list has the reasons):")
    _out(f"  POSSYNC_DATABASE_URL={stack.database_url} possync status --json")
    _out(f"  POSSYNC_DATABASE_URL={stack.database_url} possync failed list")
    sys.stdout.flush()
    return green
