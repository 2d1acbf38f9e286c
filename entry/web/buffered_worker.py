"""gunicorn's threaded worker, except that a request is read whole by the event loop before a thread runs it.

Why: gthread gives a connection to a thread as soon as its first byte arrives, and the thread then
blocks on the socket until the headers and the body are in, with no deadline, so a few clients sending
a byte now and then hold every thread of the receiver (2 processes x 4 threads) and Shopify's
deliveries time out behind them. Here the worker's main loop, which already watches idle keep-alive
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
import io
import selectors
import time
from dataclasses import dataclass
from functools import partial
from typing import Any

from gunicorn import http
from gunicorn.workers.gthread import ThreadWorker

REQUEST_READ_SECONDS = 10.0  # Shopify itself gives up after 5 s, so a delivery slower than this is lost anyway
MAX_COLLECTING = 64
MAX_HEADER_BYTES = 64 * 1024
MAX_CHUNK_LINE = 4096  # a chunk-size line (size and extensions) longer than this is not framing
RECV_BYTES = 65536

REQUEST_TIMEOUT = b"HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
HEADERS_TOO_LARGE = b"HTTP/1.1 431 Request Header Fields Too Large\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
BODY_TOO_LARGE = b"HTTP/1.1 413 Content Too Large\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"


# --- where a request ends ----------------------------------------------------------------------------------
COMPLETE, INCOMPLETE, REFUSED = "complete", "incomplete", "refused"


class RequestFraming:
    """One request's bytes as they arrive, and whether they are all in: headers, then a `Content-Length`
    or chunked body. Each `feed` costs about the bytes it adds (a client sending one byte per packet
    must not make every packet rescan the request).

    Only framing is judged here: a request this cannot frame (a bad `Content-Length`, a bad chunk size)
    counts as complete, and gunicorn's parser, the judge of HTTP, answers it from a thread at once.
    `Expect: 100-continue` is taken out of the headers, since the body is read here: `continue_owed`
    then says the interim answer is due (once, while the body is not all in)."""

    def __init__(self, max_body: int, data: bytes = b"") -> None:
        self.max_body = max_body
        self.data = bytearray()
        self.continue_owed = False
        self._scanned = 0  # bytes already searched for the end of the headers
        self._body = -1  # where the body starts, once the headers are in
        self._end: int | None = None  # where the request ends, when known
        self._chunked = False
        self._chunk = 0  # the next chunk's size line
        self._chunk_total = 0
        self._state: tuple[str, bytes | None] = INCOMPLETE, None
        if data:
            self.feed(data)

    def feed(self, data: bytes) -> tuple[str, bytes | None]:
        self.data += data
        if self._state[0] == INCOMPLETE:
            self._state = self._advance()
        return self._state

    def _advance(self) -> tuple[str, bytes | None]:
        if self._body < 0:
            head_end = self.data.find(b"\r\n\r\n", max(0, self._scanned - 3))
            self._scanned = len(self.data)
            if head_end < 0 or head_end > MAX_HEADER_BYTES:
                return (INCOMPLETE, None) if len(self.data) <= MAX_HEADER_BYTES else (REFUSED, HEADERS_TOO_LARGE)
            refused = self._read_headers(head_end)
            if refused is not None:
                return refused
        if self._chunked:
            return self._chunks()
        if self._end is None or len(self.data) >= self._end:
            return COMPLETE, None
        return INCOMPLETE, None

    def _read_headers(self, head_end: int) -> tuple[str, bytes | None] | None:
        lines = bytes(self.data[:head_end]).split(b"\r\n")
        headers = {}
        kept = [lines[0]]
        for line in lines[1:]:
            name, sep, value = line.partition(b":")
            name, value = name.strip().lower(), value.strip().lower()
            if sep and name == b"expect" and value == b"100-continue":
                continue
            kept.append(line)
            if sep:
                headers[name] = value
        if len(kept) < len(lines):
            self.data[:head_end] = b"\r\n".join(kept)
            head_end = self.data.find(b"\r\n\r\n")
            self.continue_owed = True
        self._body = head_end + 4
        if b"chunked" in headers.get(b"transfer-encoding", b""):
            self._chunked = True
        elif b"content-length" in headers:
            try:
                length = int(headers[b"content-length"])
            except ValueError:
                return None  # `_end` stays None: complete, the parser answers 400
            if length > self.max_body:
                return REFUSED, BODY_TOO_LARGE
            self._end = self._body + length
        return None

    def _chunks(self) -> tuple[str, bytes | None]:
        while True:
            line = self._body + self._chunk
            line_end = self.data.find(b"\r\n", line)
            if line_end < 0:
                return (INCOMPLETE, None) if len(self.data) - line <= MAX_CHUNK_LINE else (COMPLETE, None)
            try:
                size = int(bytes(self.data[line:line_end]).split(b";", 1)[0].strip(), 16)
            except ValueError:
                return COMPLETE, None
            if self._chunk_total + size > self.max_body:
                return REFUSED, BODY_TOO_LARGE
            if size == 0:  # the last chunk, then trailers up to an empty line
                if self.data.find(b"\r\n\r\n", line_end) >= 0:
                    return COMPLETE, None
                trailers = len(self.data) - line_end
                return (INCOMPLETE, None) if trailers <= MAX_HEADER_BYTES else (REFUSED, HEADERS_TOO_LARGE)
            following = line_end + 2 + size + 2
            if following > len(self.data):
                return INCOMPLETE, None
            self._chunk_total += size
            self._chunk = following - self._body


# --- the worker ----------------------------------------------------------------------------------------------
@dataclass(eq=False)
class _Collecting:
    conn: Any  # gunicorn's TConn
    deadline: float
    framing: RequestFraming


class BufferingThreadWorker(ThreadWorker):
    """`worker_class = "possync.entry.web.buffered_worker.BufferingThreadWorker"` (possync.entry.web.gunicorn_conf)."""

    read_seconds = REQUEST_READ_SECONDS
    max_collecting = MAX_COLLECTING

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._collecting: dict[Any, _Collecting] = {}  # by connection, oldest first
        self.max_body = 0

    def init_process(self) -> None:
        # Imported in the worker process, as the app is: the master need not load the receiver.
        from possync.entry.web.shopify_webhooks import MAX_BODY_BYTES

        self.max_body = MAX_BODY_BYTES
        super().init_process()

    def enqueue_req(self, conn: Any) -> None:
        """Every connection with a request coming passes here (new, kept alive, deferred, or with the next
        request read ahead into its parser): collect it, then hand it to a thread."""
        if getattr(conn, "possync_collected", False) or self.cfg.is_ssl:
            conn.possync_collected = False
            conn.sock.setblocking(True)
            super().enqueue_req(conn)
            return
        if len(self._collecting) >= self.max_collecting:
            self._drop(next(iter(self._collecting.values())), REQUEST_TIMEOUT)
        collecting = _Collecting(conn, time.monotonic() + self.read_seconds, RequestFraming(self.max_body))
        conn.sock.setblocking(False)
        self._collecting[conn] = collecting
        read_ahead = _take_read_ahead(conn)
        if read_ahead:
            self._advance(collecting, read_ahead)
        if conn in self._collecting:
            self._receive(collecting)  # a kept-alive connection that woke the poller has its request in already
        if conn in self._collecting:
            self.poller.register(conn.sock, selectors.EVENT_READ, partial(self._on_readable, collecting))

    def _on_readable(self, collecting: _Collecting, _sock: Any) -> None:
        self._receive(collecting)

    def _receive(self, collecting: _Collecting) -> None:
        try:
            data = collecting.conn.sock.recv(RECV_BYTES)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:  # the client went away
            self._drop(collecting, None)
            return
        self._advance(collecting, data)

    def _advance(self, collecting: _Collecting, data: bytes) -> None:
        framing = collecting.framing
        state, reply = framing.feed(data)
        if state == COMPLETE:
            self._hand_over(collecting)
        elif reply is not None:
            self._drop(collecting, reply)
        elif framing.continue_owed:
            framing.continue_owed = False
            _send_quietly(collecting.conn.sock, CONTINUE)

    def _hand_over(self, collecting: _Collecting) -> None:
        conn = self._forget(collecting)
        if conn.parser is None:
            conn.parser = _new_parser(self.cfg, conn.sock, conn.client)
        conn.parser.unreader.unread(bytes(collecting.framing.data))
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


def _take_read_ahead(conn: Any) -> bytes:
    """Bytes of the next request already read into a kept-alive connection's parser (a pipelining client),
    taken out: they are collected like the rest, or a half-sent second request would hold a thread."""
    parser = getattr(conn, "parser", None)
    if parser is None:
        return b""
    data = parser.unreader.buf.getvalue()
    if data:
        parser.unreader.buf = io.BytesIO()
    return data


def _new_parser(cfg: Any, sock: Any, client: Any) -> Any:
    get_parser = getattr(http, "get_parser", None)  # gunicorn >= 24; before it, RequestParser directly
    return get_parser(cfg, sock, client) if get_parser else http.RequestParser(cfg, sock, client)


def _send_quietly(sock: Any, data: bytes) -> None:
    with contextlib.suppress(OSError):  # a non-blocking send to a client that does not read: nothing owed
        sock.send(data)
