"""A TCP port forward like Docker's published port: the browser reaches http://127.0.0.1:<port>, while the
server sees the connection come from another address of this machine (in compose, the bridge's gateway)."""

from __future__ import annotations

import contextlib
import fcntl
import ipaddress
import socket
import struct
import threading
from collections.abc import Iterator

import pytest

SIOCGIFADDR = 0x8915  # linux/sockios.h


def outside_address() -> str:
    """An IPv4 address of this machine's own interfaces that is not loopback (asked of the kernel with the
    SIOCGIFADDR ioctl: no packet leaves, and the tests' socket guard allows no connect outside loopback)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        for _, name in socket.if_nameindex():
            try:
                answer = fcntl.ioctl(probe.fileno(), SIOCGIFADDR, struct.pack("256s", name.encode()[:15]))
            except OSError:
                continue  # no IPv4 address on this interface
            address = socket.inet_ntoa(answer[20:24])
            if not ipaddress.ip_address(address).is_loopback:
                return address
    pytest.fail("this machine has no IPv4 address besides loopback to forward from")


def _pipe(source: socket.socket, target: socket.socket) -> None:
    with contextlib.suppress(OSError):
        while data := source.recv(65536):
            target.sendall(data)
    with contextlib.suppress(OSError):
        target.shutdown(socket.SHUT_WR)


@contextlib.contextmanager
def port_forward(target_port: int, source_address: str) -> Iterator[int]:
    """Listen on 127.0.0.1; each connection is relayed to 127.0.0.1:`target_port` from `source_address`.
    At the end every socket is closed, which also ends the relaying threads."""
    listener = socket.create_server(("127.0.0.1", 0))
    opened: list[socket.socket] = []

    def accept() -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # the listener was shut down
            upstream = socket.create_connection(("127.0.0.1", target_port), source_address=(source_address, 0))
            opened.extend((client, upstream))
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=_pipe, args=(a, b), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    try:
        yield listener.getsockname()[1]
    finally:
        with contextlib.suppress(OSError):
            listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept(); close() alone does not on Linux
        for sock in [listener, *opened]:
            sock.close()
