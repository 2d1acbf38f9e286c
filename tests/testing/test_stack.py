"""The shared process stack leaves no process behind: a worker whose main process died with its pool
children alive, and a run that exits without closing its stack (`python -m bench recovery` once did)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import types
from pathlib import Path

import redis

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


class RestartedBroker:
    """A Celery app's stand-in whose first ping meets a pooled connection to a Redis restarted since."""

    def __init__(self) -> None:
        self.pings = 0
        self.control = self
        self._pool: object = "the pool of the Redis before its restart"
        self.amqp = types.SimpleNamespace(_producer_pool="its producers")

    def ping(self, timeout: float, destination: list[str] | None = None) -> list[dict[str, object]]:
        self.pings += 1
        if self.pings == 1:
            raise redis.exceptions.ConnectionError("Connection closed by server.")
        assert self._pool is None and self.amqp._producer_pool is None  # the second ping gets a new connection
        return [{"celery@worker": {"ok": "pong"}}]


def test_waiting_for_a_worker_outlasts_a_broker_connection_closed_by_a_restart(tmp_path: Path) -> None:
    worker = WorkerProcess({}, command=["sleep", "30"], log_dir=str(tmp_path)).start()
    broker = RestartedBroker()
    try:
        worker.wait_ready(broker, timeout=10)
    finally:
        worker.stop(timeout=5)
    assert broker.pings == 2
