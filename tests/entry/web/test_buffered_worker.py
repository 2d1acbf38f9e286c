"""The receiver under gunicorn with slow clients: a request is read whole before a thread runs it.

The real receiver (`possync.entry.web.wsgi`'s app with a Redis LPUSH enqueue, `testing.receiver.environment`) under
gunicorn with `possync.entry.web.gunicorn_conf` (2 processes x 4 threads), a fresh PostgreSQL database, and
raw sockets for the clients: trickling bodies and headers, `Expect: 100-continue`, chunked bodies.
"""

from __future__ import annotations

import http.client
import socket
import threading
import time
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from possync.adapters.shopify.webhooks import webhook_headers
from possync.entry.web.buffered_worker import (
    BODY_TOO_LARGE,
    COMPLETE,
    HEADERS_TOO_LARGE,
    INCOMPLETE,
    MAX_HEADER_BYTES,
    REFUSED,
    REQUEST_READ_SECONDS,
    RequestFraming,
)
from testing.receiver import CLIENT_SECRET, SHOP, Environment, delivery_body, environment

MAX = 1024 * 1024
TRICKLERS = 32
BODY = delivery_body()


# --- framing, without a server ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", (COMPLETE, None)),
        (b"POST / HTTP/1.1\r\nHost: x\r\n", (INCOMPLETE, None)),
        (b"POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nabcd", (INCOMPLETE, None)),
        (b"POST / HTTP/1.1\r\ncontent-length: 5\r\n\r\nabcde", (COMPLETE, None)),
        (b"POST / HTTP/1.1\r\nContent-Length: 2000000\r\n\r\n", (REFUSED, BODY_TOO_LARGE)),
        (b"POST / HTTP/1.1\r\nContent-Length: five\r\n\r\n", (COMPLETE, None)),  # gunicorn's parser says 400
        (b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n", (INCOMPLETE, None)),
        (b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", (COMPLETE, None)),
        (b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n0\r\nT: 1\r\n", (INCOMPLETE, None)),
        (b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n0\r\nT: 1\r\n\r\n", (COMPLETE, None)),
        (b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n200000\r\n", (REFUSED, BODY_TOO_LARGE)),
        (b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", (COMPLETE, None)),
        (b"POST / HTTP/1.1\r\nX-Pad: " + b"a" * MAX_HEADER_BYTES, (REFUSED, HEADERS_TOO_LARGE)),
    ],
    ids=["no-body", "headers-incomplete", "body-short", "body-whole", "body-too-large", "bad-length",
         "chunk-incomplete", "chunked-whole", "trailer-incomplete", "trailer-whole", "chunk-too-large",
         "bad-chunk-size", "headers-too-large"],
)
def test_where_a_request_ends(data: bytes, expected: tuple[str, bytes | None]) -> None:
    assert RequestFraming(MAX, data).feed(b"") == expected


def test_fed_a_byte_at_a_time_the_end_is_found_at_the_same_byte() -> None:
    """What the event loop sees from a client sending one byte per packet."""
    head = b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
    whole = head + b"3\r\nabc\r\n10\r\n" + b"x" * 16 + b"\r\n0\r\n\r\n"
    framing = RequestFraming(MAX)
    states = [framing.feed(whole[i:i + 1])[0] for i in range(len(whole))]
    assert states == [INCOMPLETE] * (len(whole) - 1) + [COMPLETE]
    assert framing.data == whole


def test_expect_continue_is_taken_out_and_owed_once() -> None:
    framing = RequestFraming(MAX, b"POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-Continue\r\nContent-Length: 2\r\n\r\n")
    assert framing.feed(b"") == (INCOMPLETE, None) and framing.continue_owed
    assert framing.feed(b"ab") == (COMPLETE, None)
    assert bytes(framing.data) == b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nab"
    assert not RequestFraming(MAX, b"POST / HTTP/1.1\r\nHost: x\r\n\r\n").continue_owed


# --- the real receiver under gunicorn -------------------------------------------------------------------------
@pytest.fixture(scope="module")
def receiver(redis_server_url: str) -> Iterator[Environment]:
    with environment(enqueue="lpush") as env:  # the production settings: 2 processes x 4 threads
        yield env


def signed_request(webhook_id: str, body: bytes = BODY, *, expect: bool = False, chunked: bool = False) -> bytes:
    headers = webhook_headers(body, "orders/create", CLIENT_SECRET, SHOP, webhook_id=webhook_id)
    if expect:
        headers["Expect"] = "100-continue"
    if chunked:
        headers["Transfer-Encoding"] = "chunked"
        half = len(body) // 2
        payload = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in (body[:half], body[half:])) + b"0\r\n\r\n"
    else:
        headers["Content-Length"] = str(len(body))
        payload = body
    head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    return f"POST /webhooks/shopify HTTP/1.1\r\nHost: possync\r\n{head}\r\n".encode() + payload


def deliver(port: int, webhook_id: str) -> tuple[int, float]:
    started = time.monotonic()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
    try:
        headers = webhook_headers(BODY, "orders/create", CLIENT_SECRET, SHOP, webhook_id=webhook_id)
        conn.request("POST", "/webhooks/shopify", BODY, headers)
        response = conn.getresponse()
        response.read()
        return response.status, time.monotonic() - started
    except OSError:
        return 0, time.monotonic() - started
    finally:
        conn.close()


SLOW_POST = b"POST /webhooks/shopify HTTP/1.1\r\nHost: x\r\nContent-Length: 4000\r\n\r\n"
OPENINGS = {
    "body": SLOW_POST,  # then the body, a byte at a time
    "headers": b"POST /webhooks/shopify HTTP/1.1\r\nHost: x\r\nX-Slow: ",  # then the headers, likewise
    "pipelined": b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n" + SLOW_POST,  # one request whole, the next slow
}


class Trickler(threading.Thread):
    """A client sending one byte every half second after its opening; it reconnects when the server
    closes the connection, and keeps what the server sent on each connection that the server closed."""

    def __init__(self, port: int, kind: str, stop: threading.Event) -> None:
        super().__init__(daemon=True)
        self.port, self.kind, self.stop = port, kind, stop
        self.transcripts: list[bytes] = []

    def run(self) -> None:
        while not self.stop.is_set():
            transcript, closed = b"", False
            with socket.create_connection(("127.0.0.1", self.port), timeout=5) as sock:
                sock.sendall(OPENINGS[self.kind])
                sock.settimeout(0.5)
                while not self.stop.is_set():
                    try:
                        sock.sendall(b"a")
                        chunk = sock.recv(4096)
                    except TimeoutError:
                        continue
                    except OSError:
                        closed = True
                        break
                    if not chunk:
                        closed = True
                        break
                    transcript += chunk
            if closed:
                self.transcripts.append(transcript)


def stored_webhook_ids(env: Environment) -> set[str]:
    engine = sa.create_engine(env.database_url)
    try:
        with engine.connect() as conn:
            return set(conn.execute(sa.text("SELECT webhook_id FROM inbound_events")).scalars())
    finally:
        engine.dispose()


def test_deliveries_get_their_200_within_5_s_while_32_clients_trickle(receiver: Environment) -> None:
    stop = threading.Event()
    kinds = sorted(OPENINGS)
    tricklers = [Trickler(receiver.port, kinds[i % len(kinds)], stop) for i in range(TRICKLERS)]
    started = time.monotonic()
    for trickler in tricklers:
        trickler.start()
    try:
        time.sleep(1.0)  # every trickler connected and sending: on plain gthread, all 8 threads are now held
        results = []
        for i in range(12):
            results.append(deliver(receiver.port, f"under-trickle-{i}"))
            time.sleep(0.4)
        time.sleep(max(0.0, started + REQUEST_READ_SECONDS + 2.0 - time.monotonic()))
    finally:
        stop.set()
        for trickler in tricklers:
            trickler.join(timeout=10)
    statuses = [status for status, _ in results]
    slowest = max(seconds for _, seconds in results)
    assert statuses == [200] * len(results), statuses
    assert slowest < 5.0, f"slowest delivery took {slowest:.2f} s"
    assert {f"under-trickle-{i}" for i in range(12)} <= stored_webhook_ids(receiver)
    # Every slow request was cut off by the read deadline with a 408, never handed to a thread; the whole
    # request before a slow one was answered.
    for trickler in tricklers:
        assert trickler.transcripts, trickler.kind
        for transcript in trickler.transcripts:
            assert transcript.count(b"HTTP/1.1 ") == (2 if trickler.kind == "pipelined" else 1), transcript
            assert transcript.startswith(b"HTTP/1.1 200" if trickler.kind == "pipelined" else b"HTTP/1.1 408")
            assert b"HTTP/1.1 408 Request Timeout" in transcript


def exchange(port: int, data: bytes, *, expect_continue: bool = False) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        if expect_continue:
            head, _, body = data.partition(b"\r\n\r\n")
            sock.sendall(head + b"\r\n\r\n")
            interim = sock.recv(64)
            assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
            sock.sendall(body)
        else:
            sock.sendall(data)
        answer = b""
        while b"\r\n\r\n" not in answer:
            chunk = sock.recv(4096)
            if not chunk:
                break
            answer += chunk
        return answer


def test_expect_continue_is_answered_and_the_delivery_stored(receiver: Environment) -> None:
    answer = exchange(receiver.port, signed_request("expect-1", expect=True), expect_continue=True)
    assert answer.startswith(b"HTTP/1.1 200"), answer[:200]
    assert "expect-1" in stored_webhook_ids(receiver)


def test_a_chunked_delivery_is_collected_and_stored(receiver: Environment) -> None:
    answer = exchange(receiver.port, signed_request("chunked-1", chunked=True))
    assert answer.startswith(b"HTTP/1.1 200"), answer[:200]
    assert "chunked-1" in stored_webhook_ids(receiver)


def test_an_announced_body_over_the_limit_is_413_before_it_is_sent(receiver: Environment) -> None:
    head = b"POST /webhooks/shopify HTTP/1.1\r\nHost: x\r\nContent-Length: 5000000\r\n\r\n"
    assert exchange(receiver.port, head).startswith(b"HTTP/1.1 413")


def test_kept_alive_connections_serve_several_deliveries(receiver: Environment) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", receiver.port, timeout=10)
    try:
        for i in range(3):
            headers = webhook_headers(BODY, "orders/create", CLIENT_SECRET, SHOP, webhook_id=f"keepalive-{i}")
            conn.request("POST", "/webhooks/shopify", BODY, headers)
            response = conn.getresponse()
            response.read()
            assert response.status == 200
        conn.request("GET", "/healthz")
        assert conn.getresponse().status == 200
    finally:
        conn.close()
    assert {f"keepalive-{i}" for i in range(3)} <= stored_webhook_ids(receiver)
