"""`possync flower`: one login, loopback when open, `/metrics` behind the login; Flower started for real."""

from __future__ import annotations

import base64
import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import click
import pytest

from possync.entry.cli.flower import flower_argv

LOGIN = "admin:Flower-pw-0123456789"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(url: str, login: str | None = None) -> int:
    request = urllib.request.Request(url)
    if login is not None:
        request.add_header("Authorization", "Basic " + base64.b64encode(login.encode()).decode())
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code


@contextlib.contextmanager
def running_flower(env: dict[str, str], *args: str) -> Iterator[int]:
    """`possync flower` in its own process on a free port, stopped afterwards."""
    port = _free_port()
    full = {k: v for k, v in os.environ.items() if not k.startswith(("POSSYNC_", "FLOWER_"))} | env
    log = Path(os.environ.get("TMPDIR", "/tmp")) / f"possync-flower-test-{port}.log"
    with log.open("wb") as out:
        process = subprocess.Popen([sys.executable, "-m", "possync.entry.cli", "flower", f"--port={port}", *args],
                                   env=full, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        while not (_listening(port) and _get(f"http://127.0.0.1:{port}/healthcheck") == 200):
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"flower did not start: {log.read_text()[-2000:]}")
            time.sleep(0.2)
        yield port
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.unlink(missing_ok=True)


def _listening(port: int) -> bool:
    return bool(_listen_addresses(port))


def _listen_addresses(port: int) -> set[str]:
    """Local addresses with a TCP socket listening on `port` (Linux /proc/net/tcp and tcp6)."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError), open(table) as f:
            for line in f.readlines()[1:]:
                local, state = line.split()[1], line.split()[3]
                address, _, hex_port = local.partition(":")
                if state == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
                    found.add(address)
    return found


@pytest.fixture
def broker_env(redis_server_url: str, redis_prefix: str) -> dict[str, str]:
    return {"POSSYNC_REDIS_URL": redis_server_url, "POSSYNC_REDIS_KEY_PREFIX": redis_prefix}


def test_metrics_and_api_need_the_one_login(broker_env: dict[str, str]) -> None:
    with running_flower({**broker_env, "POSSYNC_FLOWER_BASIC_AUTH": LOGIN}, "--address=127.0.0.1") as port:
        base = f"http://127.0.0.1:{port}"
        assert _get(f"{base}/metrics") == 401
        assert _get(f"{base}/metrics", "admin:wrong") == 401
        assert _get(f"{base}/metrics", LOGIN) == 200
        assert _get(f"{base}/api/workers") == 401
        assert _get(f"{base}/api/workers", LOGIN) == 200
        assert _get(f"{base}/healthcheck") == 200  # the container health check needs no login


def test_unauthenticated_listens_on_loopback_only(broker_env: dict[str, str]) -> None:
    with running_flower(broker_env, "--unauthenticated") as port:
        assert _listen_addresses(port) == {"0100007F"}  # 127.0.0.1, little-endian hex


@pytest.mark.parametrize(
    ("auth", "reason"),
    [("admin:S3cret-long-pw,x", "no comma"), (":S3cret-long-pw", "non-empty user"), ("admin:", "non-empty"),
     ("admin", "user:password"), ("admin:change-me", "placeholder")],
    ids=["comma", "empty-user", "empty-password", "no-colon", "placeholder"],
)
def test_bad_login_is_refused_before_flower_starts(auth: str, reason: str, broker_env: dict[str, str]) -> None:
    full = {k: v for k, v in os.environ.items() if not k.startswith("POSSYNC_")}
    result = subprocess.run([sys.executable, "-m", "possync.entry.cli", "flower"], capture_output=True, text=True,
                            env=full | broker_env | {"POSSYNC_FLOWER_BASIC_AUTH": auth}, timeout=60, check=False)
    assert result.returncode == 2
    assert result.stderr.strip().startswith("possync: POSSYNC_FLOWER_BASIC_AUTH") and reason in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_options_passed_to_flower() -> None:
    assert flower_argv(["--port=5555"], LOGIN, False, {}) == ["flower", "--port=5555", f"--basic-auth={LOGIN}"]
    assert flower_argv([], None, True, {}) == ["flower", "--address=127.0.0.1"]
    assert flower_argv(["--address=0.0.0.0"], None, True, {}) == ["flower", "--address=0.0.0.0"]
    assert flower_argv([], None, True, {"FLOWER_ADDRESS": "10.0.0.5"}) == ["flower"]


@pytest.mark.parametrize(
    ("extra", "environ"),
    [(["--basic-auth=x:y"], {}), (["--basic_auth", "x:y"], {}), ([], {"FLOWER_BASIC_AUTH": "x:y"})],
    ids=["option", "underscore", "environment"],
)
def test_a_second_source_of_logins_is_refused(extra: list[str], environ: dict[str, str]) -> None:
    with pytest.raises(click.ClickException, match="POSSYNC_FLOWER_BASIC_AUTH only"):
        flower_argv(extra, LOGIN, False, environ)


def test_no_login_and_not_unauthenticated_is_refused() -> None:
    with pytest.raises(click.ClickException, match="POSSYNC_FLOWER_BASIC_AUTH is not set"):
        flower_argv([], None, False, {})
