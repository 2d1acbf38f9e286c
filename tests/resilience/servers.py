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
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

PG_BIN_GLOB = "/usr/lib/postgresql/*/bin"
PG_OS_USER = "postgres"  # initdb and postgres refuse to run as root
SENTINEL_BINARY = "redis-sentinel"  # Debian package redis-sentinel (scripts/services.sh installs it)


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
    """`redis-server` without persistence: a restart loses every key, as a crashed broker would.

    `options` are more redis-server arguments (a replica's `--replicaof HOST PORT`); `name` is its own folder
    under `workdir`, for servers that run side by side."""

    def __init__(self, workdir: Path, *options: str, name: str = "redis") -> None:
        self.port = free_port()
        self.workdir = workdir / name
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.options = options
        self.proc: subprocess.Popen[bytes] | None = None
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def command(self) -> list[str]:
        return ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                "--daemonize", "no", "--dir", str(self.workdir), *self.options]

    def start(self) -> None:
        log = (self.workdir / "redis.log").open("ab")
        self.proc = subprocess.Popen(self.command(), stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        _wait(self.answers, 10, f"the private {self.workdir.name} to answer")

    def ensure_running(self) -> None:
        if not self.running:
            self.start()

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
        with self.client() as client:
            client.flushall()

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url, socket_connect_timeout=1, socket_timeout=2)

    def info(self, section: str) -> dict[str, Any]:
        with self.client() as client:
            return client.info(section)


class SentinelServer(RedisServer):
    """`redis-sentinel` watching one master: it calls the master down after 1 s (production: tens of seconds),
    and needs one sentinel's word for that (quorum 1), so a crash fails over within a few seconds."""

    def __init__(self, workdir: Path, name: str, master: str, primary: RedisServer) -> None:
        super().__init__(workdir, name=name)
        self.master = master
        self.primary = primary

    def command(self) -> list[str]:
        config = self.workdir / "sentinel.conf"
        if not config.exists():  # sentinel rewrites it with what it learns: a restart keeps that
            config.write_text(f"port {self.port}\nbind 127.0.0.1\ndaemonize no\ndir {self.workdir}\n"
                              f"sentinel monitor {self.master} 127.0.0.1 {self.primary.port} 1\n"
                              f"sentinel down-after-milliseconds {self.master} 1000\n"
                              f"sentinel failover-timeout {self.master} 5000\n")
        return [SENTINEL_BINARY, str(config)]

    def master_port(self) -> int | None:
        """The port of the master this sentinel names now, or None when it cannot be asked."""
        try:
            with self.client() as client:
                address = client.sentinel_get_master_addr_by_name(self.master)
        except redis.RedisError:
            return None
        return int(address[1]) if address else None


class SentinelGroup:
    """A primary, its replica and two sentinels watching them: what `POSSYNC_REDIS_URL=sentinel://...` meets.

    Which server is the master changes with each failover; `master()` asks the sentinels."""

    MASTER = "possync-test"

    def __init__(self, workdir: Path) -> None:
        self.primary = RedisServer(workdir, name="primary")
        self.replica = RedisServer(workdir, "--replicaof", "127.0.0.1", str(self.primary.port), name="replica")
        self.sentinels = [SentinelServer(workdir, f"sentinel-{n}", self.MASTER, self.primary) for n in (1, 2)]

    @property
    def servers(self) -> list[RedisServer]:
        return [self.primary, self.replica]

    def env(self) -> dict[str, str]:
        """POSSYNC_ settings for this group, in the URL form the README shows (the db on the last address)."""
        url = ";".join(f"sentinel://127.0.0.1:{sentinel.port}" for sentinel in self.sentinels) + "/0"
        return {"POSSYNC_REDIS_URL": url, "POSSYNC_REDIS_SENTINEL_MASTER": self.MASTER}

    def start(self) -> None:
        for process in [*self.servers, *self.sentinels]:
            process.ensure_running()
        self.wait_settled()

    ensure_running = start

    def stop(self) -> None:
        for process in [*self.sentinels, *self.servers]:
            process.stop(crash=False)

    def master(self) -> RedisServer:
        ports = {sentinel.master_port() for sentinel in self.sentinels if sentinel.running} - {None}
        if len(ports) != 1:
            raise RuntimeError(f"the sentinels name {len(ports)} masters ({sorted(p for p in ports if p)})")
        [port] = ports
        return next(server for server in self.servers if server.port == port)

    def settled(self) -> bool:
        """Every sentinel names the same master, which says it is one, every other server replicates from it,
        and the sentinels know the replicas and each other (what a failover needs)."""
        try:
            master = self.master()
            if not master.running or master.info("replication")["role"] != "master":
                return False
            for server in self.servers:
                if server is not master and server.running:
                    info = server.info("replication")
                    if info["role"] != "slave" or info.get("master_port") != master.port or \
                            info.get("master_link_status") != "up":
                        return False
            for sentinel in self.sentinels:
                with sentinel.client() as client:
                    others = client.sentinel_master(self.MASTER)["num-other-sentinels"]
                    replicas = client.sentinel_slaves(self.MASTER)
                seen = sum(not (r["is_sdown"] or r["is_disconnected"]) for r in replicas)
                if seen < sum(s.running for s in self.servers) - 1 or others < len(self.sentinels) - 1:
                    return False
        except (redis.RedisError, RuntimeError, StopIteration):
            return False
        return True

    def wait_settled(self, timeout: float = 40) -> None:
        _wait(self.settled, timeout, "the sentinels to agree on one master with its replica")

    def failover(self) -> RedisServer:
        """`SENTINEL FAILOVER`: the replica is promoted at once; returns the new master (not yet settled)."""
        old = self.master()
        with self.sentinels[0].client() as client:
            client.execute_command("SENTINEL", "FAILOVER", self.MASTER)
        _wait(lambda: self._names_other_master(old), 20, "the sentinels to name a new master")
        return self.master()

    def kill_master(self) -> RedisServer:
        """SIGKILL the master: the sentinels promote the replica within seconds. The killed server comes back
        empty as a replica of the new master, as a supervisor's restart plus the sentinels' reconfiguration
        would leave it, ready for the next failover. Returns the new master."""
        old = self.master()
        old.stop()
        _wait(lambda: self._names_other_master(old), 30, "the sentinels to promote the replica")
        new = self.master()
        old.options = ("--replicaof", "127.0.0.1", str(new.port))
        old.start()
        return new

    def _names_other_master(self, old: RedisServer) -> bool:
        try:
            return self.master() is not old
        except (RuntimeError, StopIteration):
            return False

    def flush(self) -> None:
        self.master().flush()


@contextlib.contextmanager
def running_sentinel_group(workdir: Path) -> Iterator[SentinelGroup]:
    """A started `SentinelGroup`, stopped afterwards; the test is skipped when redis-sentinel is missing."""
    if shutil.which(SENTINEL_BINARY) is None:
        pytest.skip(f"{SENTINEL_BINARY} is not installed (Debian package redis-sentinel; scripts/services.sh "
                    "installs it)")
    group = SentinelGroup(workdir)
    try:
        group.start()
        yield group
    finally:
        group.stop()


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
