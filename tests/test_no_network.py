"""The suite's network guard (pytest-socket, options in pyproject.toml): only this machine is reachable."""

from __future__ import annotations

import socket
import tempfile
from pathlib import Path

import pytest
import requests
from pytest_socket import SocketConnectBlockedError

pytestmark = pytest.mark.filterwarnings("ignore:A test tried to use socket")

OUTSIDE = "203.0.113.1"  # TEST-NET-3 (RFC 5737): a documentation address, routed nowhere


@pytest.fixture(autouse=True)
def _guard_is_on(pytestconfig: pytest.Config) -> None:
    # Checked first, so that without the guard these tests fail here instead of trying the address.
    assert pytestconfig.getoption("--allow-hosts") == "127.0.0.1,localhost,::1"
    assert pytestconfig.getoption("--allow-unix-socket")


def test_a_socket_to_an_outside_address_is_refused() -> None:
    with socket.socket() as sock, pytest.raises(SocketConnectBlockedError, match=OUTSIDE):
        sock.settimeout(1)
        sock.connect((OUTSIDE, 443))


def test_an_http_request_to_an_outside_address_is_refused() -> None:
    with pytest.raises(SocketConnectBlockedError, match=OUTSIDE):
        requests.get(f"http://{OUTSIDE}/", timeout=1)


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_this_machine_is_reachable(host: str) -> None:
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        with socket.create_connection((host, port), timeout=5):
            pass


def test_a_unix_socket_is_reachable() -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = str(Path(folder) / "s")
        with socket.socket(socket.AF_UNIX) as server, socket.socket(socket.AF_UNIX) as client:
            server.bind(path)
            server.listen()
            client.connect(path)
