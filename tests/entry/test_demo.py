"""`possync demo` as a user runs it: a subprocess with no POSSYNC_* variables, nothing else running.

One run serves every test here (it takes ~20 s): the demo with `--keep-running`, so that while it is
up the tests can run `possync status --json` on its database and paste its printed curl line; then
Ctrl-C (SIGINT) ends it, and its exit status says whether the scripted day was green.
"""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from possync.entry.demo.report import render_checks
from possync.entry.demo.script import Check

REPO = Path(__file__).resolve().parents[2]
KINDS = ("lightspeed-r", "lightspeed-x", "heartland")
READY_MARKER = "Still running"
RUN_TIMEOUT_SECONDS = 120  # the demo must finish in under 60; this only bounds a hung run
# What the scripted day must produce (Shopify -> POS), per POS: see entry/demo/script.py.
TABLE = {
    "lightspeed-r": {"created": 7, "updated": 2, "unchanged": 2, "failed": 0},
    "lightspeed-x": {"created": 7, "updated": 2, "unchanged": 2, "failed": 0},
    "heartland": {"created": 7, "updated": 1, "unchanged": 3, "failed": 1},
}


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("POSSYNC_")}
    return env | extra


def possync(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "possync.entry.cli", *args], capture_output=True, text=True, cwd=REPO,
                          env=clean_env(**env), timeout=60, check=False)


def status_json(database_url: str) -> dict[str, Any]:
    result = possync("status", "--json", POSSYNC_DATABASE_URL=database_url)
    assert result.returncode == 0, result.stderr
    return {row["tenant"]: row for row in json.loads(result.stdout)["tenants"]}


@dataclass
class DemoRun:
    workdir: Path
    report: str = ""  # stdout up to the keep-running lines
    keep_lines: str = ""  # stdout from the keep-running lines on
    stderr: str = ""
    returncode: int | None = None
    status: dict[str, Any] = field(default_factory=dict)  # `possync status --json` after the day
    webhook_reply: str = ""  # what the pasted curl line printed
    status_after_webhook: dict[str, Any] = field(default_factory=dict)

    @property
    def database_url(self) -> str:
        return f"sqlite:///{self.workdir / 'possync-demo.db'}"

    @property
    def summary(self) -> dict[str, Any]:
        return json.loads((self.workdir / "demo-summary.json").read_text())

    def table(self) -> dict[str, dict[str, str]]:
        """The closing table, parsed: POS kind -> column -> cell."""
        lines = self.report.splitlines()
        start = next(i for i, line in enumerate(lines) if line.startswith("POS "))
        header = re.split(r"\s{2,}", lines[start].strip())
        rows = {}
        for line in lines[start + 2:start + 2 + len(KINDS)]:
            cells = re.split(r"\s{2,}", line.strip())
            rows[cells[0]] = dict(zip(header, cells, strict=True))
        return rows


def _curl_command(keep_lines: str) -> str:
    lines = keep_lines.splitlines()
    first = next(i for i, line in enumerate(lines) if line.startswith("curl -s -w"))
    last = next(i for i in range(first, len(lines)) if "--data-binary" in lines[i])
    return "\n".join(lines[first:last + 1])


def _wait_for_created(database_url: str, tenant: str, count: int, timeout: float = 30.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        status = status_json(database_url)
        if status[tenant]["succeeded"].get("created") == count or time.monotonic() > deadline:
            return status
        time.sleep(0.5)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoRun]:
    run = DemoRun(tmp_path_factory.mktemp("demo"))
    stderr_path = run.workdir / "stderr.txt"
    with stderr_path.open("w") as stderr:
        proc = subprocess.Popen([sys.executable, "-m", "possync.entry.cli", "demo", "--keep-running", "--workdir",
                                 str(run.workdir)], cwd=REPO, env=clean_env(), stdout=subprocess.PIPE,
                                stderr=stderr, text=True, start_new_session=True)
        lines: queue.Queue[str | None] = queue.Queue()

        def read() -> None:
            assert proc.stdout is not None
            for line in proc.stdout:
                lines.put(line)
            lines.put(None)

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        out: list[str] = []
        try:
            deadline = time.monotonic() + RUN_TIMEOUT_SECONDS
            while time.monotonic() < deadline:
                try:
                    line = lines.get(timeout=1.0)
                except queue.Empty:
                    continue
                if line is None or line.startswith(READY_MARKER):
                    break
                out.append(line)
            run.report = "".join(out)
            if proc.poll() is None:
                run.status = status_json(run.database_url)
                time.sleep(0.5)  # the rest of the keep-running lines
                while not lines.empty() and (line := lines.get()) is not None:
                    out.append(line)
                run.keep_lines = "".join(out)[len(run.report):]
                created = run.status["demo-lightspeed-r"]["succeeded"].get("created", 0)
                pasted = subprocess.run(["bash", "-c", _curl_command(run.keep_lines)], capture_output=True,
                                        text=True, timeout=20, check=False)
                run.webhook_reply = pasted.stdout + pasted.stderr
                run.status_after_webhook = _wait_for_created(run.database_url, "demo-lightspeed-r", created + 1)
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)  # Ctrl-C
            try:
                run.returncode = proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                run.returncode = proc.wait()
            reader.join(timeout=5)
    run.stderr = stderr_path.read_text(errors="replace")
    yield run


def test_the_demo_runs_green_in_under_a_minute(demo: DemoRun) -> None:
    assert demo.returncode == 0, demo.report + demo.stderr[-3000:]
    assert "GREEN" in demo.report
    held = re.search(r"Checks: (\d+)/(\d+) expectations held", demo.report)
    assert held and held.group(1) == held.group(2), demo.report
    assert demo.summary["green"] is True
    assert demo.summary["seconds"] < 60
    assert f"working in {demo.workdir}" in demo.report
    assert (demo.workdir / "possync-demo.db").exists()


def test_the_table_has_each_pos_numbers(demo: DemoRun) -> None:
    table = demo.table()
    assert sorted(table) == sorted(KINDS)
    for kind, wanted in TABLE.items():
        for column, value in wanted.items():
            assert table[kind][column] == str(value), (kind, column, table[kind])
        assert "updated 1" in table[kind]["POS->Shopify"]  # the staff edit that reached Shopify
        assert "echo 1" in table[kind]["echo/skipped"]  # Shopify's webhook about that write
        assert int(table[kind]["429s"]) >= 3  # the storm
        assert int(table[kind]["POS requests"]) > 0
    assert "default_customer 1" in table["heartland"]["echo/skipped"]


def test_the_report_names_the_scripted_moments(demo: DemoRun) -> None:
    report = demo.report
    assert re.search(r"^POS -> Shopify: .*\[ok\]$", report, re.M)
    assert re.search(r"^Heartland default customer: .*\[ok\]$", report, re.M)
    assert re.search(r"^Bad signature: HTTP 401 .*\[ok\]$", report, re.M)
    assert re.search(r"^429 storm: .* 0 failures.*\[ok\]$", report, re.M)
    assert re.search(r"^  heartland: job \d+ \[missing_fields\] ", report, re.M)  # failed, with its reason
    assert f"POSSYNC_DATABASE_URL={demo.database_url} possync status --json" in report


def test_possync_status_on_the_demo_database_agrees_with_the_table(demo: DemoRun) -> None:
    table = demo.table()
    summary = {row["pos_kind"]: row for row in demo.summary["pos"]}
    assert sorted(demo.status) == sorted([*(f"demo-{kind}" for kind in KINDS), "demo-crm"])
    for kind in KINDS:
        status = demo.status[f"demo-{kind}"]
        row = summary[kind]
        # status counts both directions together; the table splits them.
        both = {k: row["shopify_to_pos"].get(k, 0) + row["pos_to_shopify"].get(k, 0)
                for k in {*row["shopify_to_pos"], *row["pos_to_shopify"]}}
        assert status["succeeded"] == both, kind
        assert status["succeeded"]["created"] == int(table[kind]["created"])
        assert status["failed"] == int(table[kind]["failed"])
        assert status["backlog"] == {"jobs": 0, "events": 0}
        assert status["last_poll"] is not None


def test_keep_running_prints_curl_lines_that_work(demo: DemoRun) -> None:
    keep = demo.keep_lines
    assert "/healthz" in keep and "/metrics" in keep
    assert "X-Shopify-Hmac-Sha256: " in keep
    assert "HTTP 200" in demo.webhook_reply, demo.webhook_reply
    created = demo.status["demo-lightspeed-r"]["succeeded"]["created"]
    assert demo.status_after_webhook["demo-lightspeed-r"]["succeeded"]["created"] == created + 1


def test_nothing_personal_is_printed(demo: DemoRun) -> None:
    """The day's customers have @example.com emails and 555 phones; neither reaches the output."""
    for text in (demo.report, demo.stderr):
        assert "@example.com" not in text
        assert "555-01" not in text and "555010" not in text


def test_the_receiver_access_log_is_not_printed(demo: DemoRun) -> None:
    """One werkzeug line per webhook would bury the progress; the day still sent its webhooks."""
    assert demo.summary["green"]
    assert "POST /webhooks/shopify" not in demo.stderr and "werkzeug" not in demo.stderr


def test_an_expectation_not_met_is_named() -> None:
    lines = render_checks([Check("heartland", "walk-in sale 1: created", False, "got updated"),
                           Check("heartland", "no failures", True)])
    assert lines[0] == "Checks: 1/2 expectations held"
    assert lines[1] == "  NOT MET [heartland] walk-in sale 1: created (got updated)"


def test_the_table_has_the_crm_tenants_line(demo: DemoRun) -> None:
    """SPEC section 10 in the demo: a CRM-only tenant's contacts, with the CRM's refusal among the failures."""
    line = next(line for line in demo.report.splitlines() if line.startswith("crm (freshsales)"))
    header = re.split(r"\s{2,}", next(line for line in demo.report.splitlines() if line.startswith("POS ")).strip())
    row = dict(zip(header, ["crm (freshsales)", *re.split(r"\s{2,}", line[len("crm (freshsales)"):].strip())],
                   strict=True))
    assert (row["created"], row["updated"], row["unchanged"], row["failed"]) == ("2", "1", "1", "1")
    assert re.search(r"^  crm \(freshsales\): job \d+ \[crm_refused\] tenant demo-crm, field emails:", demo.report,
                     re.M)
    assert demo.status["demo-crm"]["crm"]["backfill"]["status"] is None
    assert demo.status["demo-crm"]["pos_kind"] is None
