"""Private Redis and PostgreSQL servers that the resilience tests may kill and restart.

Other developers' tests use the shared servers on 6379 and 5432 at the same time, so nothing here ever
touches those: each server below is a child process of this test run, on a free port, with its data in
a temporary directory that is removed at the end. Stopping and starting one keeps its port, so every
client (this process, the worker, the receiver) reconnects to the same URL, as after a real restart.
"""

from __future__ import annotations

import contextlib
import glob
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import redis

PG_BIN_GLOB = "/usr/lib/postgresql/*/bin"
PG_OS_USER = "postgres"  # initdb and postgres refuse to run as root


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait(predicate, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.05)


class RedisServer:
    """`redis-server` without persistence: a restart loses every key, as a crashed broker would."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.workdir = workdir
        self.proc: subprocess.Popen[bytes] | None = None
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        log = (self.workdir / "redis.log").open("ab")
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--daemonize", "no", "--dir", str(self.workdir)],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        log.close()
        _wait(self.answers, 10, "the private Redis to answer")

    def answers(self) -> bool:
        client = redis.Redis.from_url(self.url, socket_connect_timeout=0.5, socket_timeout=0.5)
        try:
            return bool(client.ping())
        except redis.RedisError:
            return False
        finally:
            client.close()

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, *, crash: bool = True) -> None:
        """SIGKILL by default: a crash, not a clean shutdown (nothing is saved either way)."""
        if self.running:
            assert self.proc is not None
            self.proc.send_signal(signal.SIGKILL if crash else signal.SIGTERM)
            self.proc.wait(timeout=10)

    def restart(self) -> None:
        self.stop()
        self.start()

    def flush(self) -> None:
        client = redis.Redis.from_url(self.url)
        try:
            client.flushall()
        finally:
            client.close()


class PostgresCluster:
    """A throwaway PostgreSQL cluster (initdb into a temp dir owned by the `postgres` OS user, trust auth)."""

    def __init__(self) -> None:
        candidates = sorted(glob.glob(PG_BIN_GLOB), key=lambda p: int(Path(p).parent.name.split(".")[0]))
        if not candidates:
            raise RuntimeError(f"no PostgreSQL binaries under {PG_BIN_GLOB}")
        self.bin = Path(candidates[-1])
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="possync-res-pg-"))
        shutil.chown(self.root, PG_OS_USER, PG_OS_USER)
        self.data = self.root / "data"
        self.log = self.root / "postgres.log"
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _as_postgres(self, *args: str, timeout: float = 60) -> None:
        subprocess.run(["runuser", "-u", PG_OS_USER, "--", *args], check=True, timeout=timeout,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def init(self) -> None:
        self._as_postgres(str(self.bin / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres",
                          "-E", "UTF8", "--no-sync")

    def start(self) -> None:
        # fsync off: a throwaway cluster; the tests stop the server, they never crash the machine.
        options = (f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off "
                   "-c max_connections=200")
        self._as_postgres(str(self.bin / "pg_ctl"), "-D", str(self.data), "-o", options, "-l", str(self.log),
                          "-w", "-t", "60", "start")

    def stop(self, mode: str = "fast") -> None:
        """`fast` ends every session at once (clients see their connections drop), then shuts down."""
        self._as_postgres(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop")

    @property
    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()

    def ensure_running(self) -> None:
        if not self.running:
            self.start()

    def destroy(self) -> None:
        with contextlib.suppress(subprocess.SubprocessError, OSError):
            if self.running:
                self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)
