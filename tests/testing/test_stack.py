"""The shared process stack leaves no process behind: a worker whose main process died with its pool
children alive, and a run that exits without closing its stack (`python -m bench recovery` once did)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from testing.stack import WorkerProcess, signal_group

ROOT = Path(__file__).resolve().parents[2]
# The leader exits at once; the `sleep` it started stays in its process group, as a pool child would.
ORPHANING = ["sh", "-c", "sleep 300 & echo $! ; exit 0"]


def group_alive(pgid: int) -> bool:
    return signal_group(pgid, 0)


def test_stop_kills_the_group_after_its_leader_exited(tmp_path: Path) -> None:
    worker = WorkerProcess({}, command=ORPHANING, log_dir=str(tmp_path)).start()
    assert worker.proc is not None
    worker.proc.wait(timeout=10)
    assert group_alive(worker.proc.pid)  # the leader is gone, its child is not
    worker.stop(timeout=5)
    assert not group_alive(worker.proc.pid)


def test_a_process_that_exits_without_closing_kills_its_groups(tmp_path: Path) -> None:
    script = ("import sys; from testing.stack import WorkerProcess; "
              f"w = WorkerProcess({{}}, command={ORPHANING!r}, log_dir={str(tmp_path)!r}).start(); "
              "w.proc.wait(); print(w.proc.pid, flush=True); raise RuntimeError('the run failed')")
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60,
                            check=False)
    assert result.returncode != 0 and "the run failed" in result.stderr
    pgid = int(result.stdout.split()[0])
    deadline = time.monotonic() + 5
    while group_alive(pgid) and time.monotonic() < deadline:
        time.sleep(0.05)
    alive = group_alive(pgid)
    if alive:
        os.killpg(pgid, signal.SIGKILL)
    assert not alive
