"""gunicorn's threaded worker, except that a request is read whole by the event loop before a thread runs it.

Why: gthread gives a connection to a thread as soon as its first byte arrives, and the thread then
blocks on the socket until the headers and the body are in, with no deadline. Some thirty clients
sending a byte now and then held every thread of the receiver (2 processes x 4 threads), and Shopify's
deliveries timed out behind them. Here the worker's main loop, which already watches idle keep-alive
connections, also collects each request's bytes without blocking: the headers, then a `Content-Length`
or chunked body. Only a complete request goes to a thread, with its bytes already in the parser's
buffer, so no thread ever waits on a client. Limits, per process:
- a request must be complete within REQUEST_READ_SECONDS of its first byte, else 408 and closed;
- at most MAX_COLLECTING requests are collected at once; a new one drops the oldest (408): the memory
  held is bounded (by MAX_COLLECTING x MAX_BODY_BYTES) and a flood of slow clients cannot lock out a
  fast one, which completes in milliseconds;
- headers over MAX_HEADER_BYTES get 431, a body over the receiver's limit (1 MiB) 413, before any thread.
`Expect: 100-continue` is answered here (and the header removed), since the body is read here.
Deliveries over TLS (gunicorn's `certfile`) are left to gthread: TLS ends at the proxy in front.
"""

from __future__ import annotations

import contextlib
import selectors
import time
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from gunicorn import http
from gunicorn.workers.gthread import ThreadWorker

REQUEST_READ_SECONDS = 10.0  # Shopify itself gives up after 5 s, so a delivery slower than this is lost anyway
MAX_COLLECTING = 64
MAX_HEADER_BYTES = 64 * 1024
RECV_BYTES = 65536

REQUEST_TIMEOUT = b"HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
HEADERS_TOO_LARGE = b"HTTP/1.1 431 Request Header Fields Too Large\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
BODY_TOO_LARGE = b"HTTP/1.1 413 Content Too Large\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"


# --- what the bytes so far say ---------------------------------------------------------------------
COMPLETE, INCOMPLETE = "complete", "incomplete"


def request_state(data: bytes | bytearray, max_body: int) -> tuple[str, bytes | None]:
    """(state, reply): COMPLETE or INCOMPLETE with no reply, or "refused" with the reply to send.

    Only framing is judged: a request this cannot frame (bad Content-Length, bad chunk size) counts as
    complete, and gunicorn's parser, which is the judge of HTTP, answers it in a thread at once."""
    end = data.find(b"\r\n\r\n")
    if end < 0:
        return (INCOMPLETE, None) if len(data) <= MAX_HEADER_BYTES else ("refused", HEADERS_TOO_LARGE)
    if end > MAX_HEADER_BYTES:
        return "refused", HEADERS_TOO_LARGE
    headers = _headers(data[:end])
    body = data[end + 4:]
    if b"chunked" in headers.get(b"transfer-encoding", b"").lower():
        done = _chunked_end(body, max_body)
        if done == -1:
            return "refused", BODY_TOO_LARGE
        return (COMPLETE, None) if done is not None else (INCOMPLETE, None)
    length_text = headers.get(b"content-length")
    if length_text is None:
        return COMPLETE, None
    try:
        length = int(length_text)
    except ValueError:
        return COMPLETE, None
    if length > max_body:
        return "refused", BODY_TOO_LARGE
    return (COMPLETE, None) if len(body) >= length else (INCOMPLETE, None)


def _headers(head: bytes | bytearray) -> dict[bytes, bytes]:
    found: dict[bytes, bytes] = {}
    for line in bytes(head).split(b"\r\n")[1:]:
        name, sep, value = line.partition(b":")
        if sep:
            found[name.strip().lower()] = value.strip()
    return found


def _chunked_end(body: bytes | bytearray, max_body: int) -> int | None:
    """Where a chunked body ends, None while it does not yet, -1 when its data passes `max_body`."""
    pos, total = 0, 0
    while True:
        line_end = body.find(b"\r\n", pos)
        if line_end < 0:
            return None
        try:
            size = int(bytes(body[pos:line_end]).split(b";", 1)[0].strip(), 16)
        except ValueError:
            return len(body)  # not chunked framing: the parser will say so
        total += size
        if total > max_body:
            return -1
        if size == 0:  # the last chunk, then trailers up to an empty line
            trailer_end = body.find(b"\r\n\r\n", line_end)
            return None if trailer_end < 0 else trailer_end + 4
        pos = line_end + 2 + size + 2
        if pos > len(body):
            return None


def without_expect_continue(data: bytes | bytearray) -> bytes | None:
    """The request without its `Expect: 100-continue` header, or None when it has none (or its headers
    are not complete yet)."""
    end = data.find(b"\r\n\r\n")
    if end < 0:
        return None
    lines = bytes(data[:end]).split(b"\r\n")
    kept = [line for line in lines if not _is_expect_continue(line)]
    if len(kept) == len(lines):
        return None
    return b"\r\n".join(kept) + bytes(data[end:])


def _is_expect_continue(line: bytes) -> bool:
    name, sep, value = line.partition(b":")
    return bool(sep) and name.strip().lower() == b"expect" and value.strip().lower() == b"100-continue"


# --- the worker ----------------------------------------------------------------------------------------------
@dataclass(eq=False)
class _Collecting:
    conn: Any  # gunicorn's TConn
    deadline: float
    data: bytearray = field(default_factory=bytearray)


class BufferingThreadWorker(ThreadWorker):
    """`worker_class = "worker.web.buffered_worker.BufferingThreadWorker"` (worker.web.gunicorn_conf)."""

    read_seconds = REQUEST_READ_SECONDS
    max_collecting = MAX_COLLECTING

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._collecting: dict[Any, _Collecting] = {}  # by connection, oldest first
        self.max_body = 0

    def init_process(self) -> None:
        # Imported in the worker process, as the app is: the master need not load the receiver.
        from worker.web.shopify_webhooks import MAX_BODY_BYTES

        self.max_body = MAX_BODY_BYTES
        super().init_process()

    def enqueue_req(self, conn: Any) -> None:
        """Every connection with a request coming passes here (new, kept alive, deferred): collect it."""
        if getattr(conn, "possync_collected", False) or self.cfg.is_ssl or _parser_holds_bytes(conn):
            conn.possync_collected = False
            conn.sock.setblocking(True)
            super().enqueue_req(conn)
            return
        if len(self._collecting) >= self.max_collecting:
            self._drop(next(iter(self._collecting.values())), REQUEST_TIMEOUT)
        collecting = _Collecting(conn, time.monotonic() + self.read_seconds)
        conn.sock.setblocking(False)
        self._collecting[conn] = collecting
        self.poller.register(conn.sock, selectors.EVENT_READ, partial(self._on_readable, collecting))

    def _on_readable(self, collecting: _Collecting, _sock: Any) -> None:
        try:
            data = collecting.conn.sock.recv(RECV_BYTES)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:  # the client went away
            self._drop(collecting, None)
            return
        collecting.data += data
        stripped = without_expect_continue(collecting.data)
        if stripped is not None:
            collecting.data = bytearray(stripped)
        state, reply = request_state(collecting.data, self.max_body)
        if state == COMPLETE:
            self._hand_over(collecting)
        elif reply is not None:
            self._drop(collecting, reply)
        elif stripped is not None:
            _send_quietly(collecting.conn.sock, CONTINUE)

    def _hand_over(self, collecting: _Collecting) -> None:
        conn = self._forget(collecting)
        if conn.parser is None:
            conn.parser = _new_parser(self.cfg, conn.sock, conn.client)
        conn.parser.unreader.unread(bytes(collecting.data))
        conn.data_ready = True  # gunicorn >= 24: do not wait for the socket, the bytes are in the parser
        conn.possync_collected = True
        self.enqueue_req(conn)

    def _forget(self, collecting: _Collecting) -> Any:
        conn = collecting.conn
        self._collecting.pop(conn, None)
        with contextlib.suppress(KeyError, ValueError, OSError):
            self.poller.unregister(conn.sock)
        return conn

    def _drop(self, collecting: _Collecting, reply: bytes | None) -> None:
        conn = self._forget(collecting)
        if reply is not None:
            _send_quietly(conn.sock, reply)
        self.nr_conns -= 1
        conn.close()

    def murder_keepalived(self, *args: Any, **kwargs: Any) -> None:
        """Runs on every turn of the main loop (at least once a second): also end overdue collections."""
        super().murder_keepalived(*args, **kwargs)
        now = time.monotonic()
        force = bool(args[0] if args else kwargs.get("force"))
        for collecting in list(self._collecting.values()):
            if collecting.deadline > now and not force:
                break  # oldest first, all with the same allowance
            self._drop(collecting, REQUEST_TIMEOUT)


def _parser_holds_bytes(conn: Any) -> bool:
    """A kept-alive connection whose next request was read ahead into its parser (pipelining)."""
    parser = getattr(conn, "parser", None)
    return parser is not None and bool(parser.unreader.buf.getvalue())


def _new_parser(cfg: Any, sock: Any, client: Any) -> Any:
    get_parser = getattr(http, "get_parser", None)  # gunicorn >= 24; before it, RequestParser directly
    return get_parser(cfg, sock, client) if get_parser else http.RequestParser(cfg, sock, client)


def _send_quietly(sock: Any, data: bytes) -> None:
    with contextlib.suppress(OSError):  # a non-blocking send to a client that does not read: nothing owed
        sock.send(data)
