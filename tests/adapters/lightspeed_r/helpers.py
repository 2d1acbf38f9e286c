"""Helpers shared by the R-Series tests (fixtures live in conftest.py)."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator

from possync.adapters.lightspeed_r.fake import FakeServer

# The fake's default credentials.
OAUTH_SECRETS = {
    "access_token": "fake-access-token",
    "refresh_token": "fake-refresh-token",
    "client_id": "fake-client-id",
    "client_secret": "fake-client-secret",
}


def stop_soon(server: FakeServer) -> None:
    """Stop in the background: the base server's shutdown waits out a 0.5 s poll interval."""
    threading.Thread(target=server.stop, name="stop-fake", daemon=True).start()


@contextlib.contextmanager
def running(server: FakeServer) -> Iterator[FakeServer]:
    server.start()
    try:
        yield server
    finally:
        stop_soon(server)


def closed_port_url() -> str:
    """A 127.0.0.1 URL where nothing listens."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"
