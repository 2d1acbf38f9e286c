"""Base of every vendor fake: a Flask app on a real socket, a request log and a control API.

A fake is part of the product (ARCHITECTURE principle 7): tests and `possync demo` talk HTTP to it
exactly as to the vendor. Subclasses add the vendor's routes in `register_routes()` and its rate-limit
behaviour in `check_rate_limit()` / `rate_limit_headers()`.

Control API (JSON, for tests in other processes; in-process code calls the methods directly):
- `POST /_control/fault`   `{"status": 429, "count": 3, "headers": {...}, "body": {...}}` or
                           `{"status": 503, "for_seconds": 30}`: answer the next requests with it;
- `POST /_control/latency` `{"seconds": 0.2}`: delay every vendor request;
- `POST /_control/seed`    `{"records": [...]}`: add records in the vendor's own JSON shape;
- `GET  /_control/state`   the fake's records; `GET /_control/requests` the request log;
- `POST /_control/reset`   drop faults, latency and the request log.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from cheroot import wsgi
from flask import Flask, Response, jsonify, request

CONTROL_PREFIX = "/_control/"


@dataclass
class LoggedRequest:
    method: str
    path: str
    query: str
    status: int
    at: float = field(default_factory=time.time)

    def to_json(self) -> dict[str, Any]:
        return {"method": self.method, "path": self.path, "query": self.query, "status": self.status, "at": self.at}


@dataclass
class Fault:
    status: int
    remaining: int | None = None  # requests left to answer with this fault
    until: float | None = None  # or: answer every request until this time
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None

    def active(self, now: float) -> bool:
        if self.until is not None:
            return now < self.until
        return (self.remaining or 0) > 0


class FakeVendorServer:
    """A vendor fake served from a background thread on 127.0.0.1."""

    vendor = "fake"

    def __init__(self) -> None:
        self.app = Flask(f"possync-fake-{self.vendor}")
        self.lock = threading.RLock()
        self.request_log: list[LoggedRequest] = []
        self.faults: list[Fault] = []
        self.latency = 0.0
        # Test instrumentation, not vendor behaviour: write requests (PUT/POST) aimed at a customer the
        # POS holds as archived or deleted at that moment, whatever the fake answered (SPEC rule 37).
        self.writes_to_archived: list[LoggedRequest] = []
        self._server: wsgi.Server | None = None
        self._thread: threading.Thread | None = None
        self._register_control_routes()
        self.app.before_request(self._before)
        self.app.after_request(self._after)
        self.register_routes(self.app)

    # --- for subclasses ------------------------------------------------------------------------
    def register_routes(self, app: Flask) -> None:
        raise NotImplementedError

    def seed(self, records: Iterable[dict[str, Any]]) -> list[Any]:
        """Add records in the vendor's JSON shape; returns their ids."""
        raise NotImplementedError

    def state(self) -> Any:
        """Everything the fake holds, JSON-safe."""
        raise NotImplementedError

    def check_rate_limit(self) -> Response | None:
        """Return a 429 response when the vendor's limit is exceeded; None to let the request in."""
        return None

    def rate_limit_headers(self) -> dict[str, str]:
        """Headers the vendor puts on every response about its rate limit."""
        return {}

    def request_cost(self) -> float:
        return 1.0

    # --- lifecycle -----------------------------------------------------------------------------
    def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve on a free port (or `port`); returns the base URL.

        cheroot rather than werkzeug's development server: the vendors keep HTTP/1.1 connections
        alive, and so must their fakes, or the clients' connection reuse is never exercised (werkzeug
        closes every connection; a thread and a TCP connect per request were most of a fake's cost).
        """
        self._server = wsgi.Server((host, port), self.app, numthreads=16, server_name=f"possync-fake-{self.vendor}")
        # How often the serving loop looks up from select(): also how long stop() waits for it.
        self._server.expiration_interval = 0.05
        self._server.prepare()  # binds now, so the port is known before the first request
        self._thread = threading.Thread(target=self._server.serve, name=f"fake-{self.vendor}", daemon=True)
        self._thread.start()
        return self.url

    @property
    def url(self) -> str:
        assert self._server is not None, "fake not started"
        host, port = self._server.bind_addr[:2]
        return f"http://{host}:{port}"

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    def serve_forever(self, host: str = "127.0.0.1", port: int = 0) -> None:
        """For `python -m adapters.<vendor>.fake`: serve in the foreground."""
        self.start(host, port)
        print(f"{self.vendor} fake listening on {self.url}", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            self.stop()

    # --- faults and latency --------------------------------------------------------------------
    def inject(
        self,
        status: int,
        *,
        count: int | None = 1,
        for_seconds: float | None = None,
        headers: dict[str, str] | None = None,
        body: Any = None,
    ) -> None:
        with self.lock:
            until = time.time() + for_seconds if for_seconds is not None else None
            self.faults.append(Fault(status, None if until else count, until, headers or {}, body))

    def reset(self) -> None:
        with self.lock:
            self.faults.clear()
            self.latency = 0.0
            self.request_log.clear()
            self.writes_to_archived.clear()

    def vendor_requests(self) -> list[LoggedRequest]:
        with self.lock:
            return list(self.request_log)

    def count_requests(self, method: str | None = None, path_contains: str = "") -> int:
        return sum(
            1
            for r in self.vendor_requests()
            if (method is None or r.method == method) and path_contains in r.path
        )

    def note_write_to_archived(self) -> None:
        """Called by a fake's write handler when its target customer is archived (or deleted) now."""
        with self.lock:
            self.writes_to_archived.append(LoggedRequest(request.method, request.path, "", 0))

    def _take_fault(self) -> Fault | None:
        with self.lock:
            now = time.time()
            self.faults = [f for f in self.faults if f.active(now)]
            if not self.faults:
                return None
            fault = self.faults[0]
            if fault.remaining is not None:
                fault.remaining -= 1
            return fault

    # --- request hooks -------------------------------------------------------------------------
    def _before(self) -> Response | None:
        if request.path.startswith(CONTROL_PREFIX):
            return None
        if self.latency:
            time.sleep(self.latency)
        fault = self._take_fault()
        if fault is not None:
            body = fault.body if fault.body is not None else {"message": f"injected fault {fault.status}"}
            response = jsonify(body)
            response.status_code = fault.status
            response.headers.update(fault.headers)
            return response
        return self.check_rate_limit()

    def _after(self, response: Response) -> Response:
        if request.path.startswith(CONTROL_PREFIX):
            return response
        with self.lock:
            self.request_log.append(
                LoggedRequest(request.method, request.path, request.query_string.decode(), response.status_code)
            )
        for name, value in self.rate_limit_headers().items():
            response.headers.setdefault(name, value)
        return response

    def _register_control_routes(self) -> None:
        app = self.app

        @app.post(CONTROL_PREFIX + "fault")
        def _fault() -> Response:
            spec = request.get_json(force=True)
            self.inject(
                int(spec["status"]),
                count=spec.get("count", 1),
                for_seconds=spec.get("for_seconds"),
                headers=spec.get("headers"),
                body=spec.get("body"),
            )
            return jsonify({"ok": True})

        @app.post(CONTROL_PREFIX + "latency")
        def _latency() -> Response:
            self.latency = float(request.get_json(force=True)["seconds"])
            return jsonify({"ok": True})

        @app.post(CONTROL_PREFIX + "seed")
        def _seed() -> Response:
            ids = self.seed(request.get_json(force=True)["records"])
            return jsonify({"ids": ids})

        @app.get(CONTROL_PREFIX + "state")
        def _state() -> Response:
            return jsonify(self.state())

        @app.get(CONTROL_PREFIX + "requests")
        def _requests() -> Response:
            return jsonify([r.to_json() for r in self.vendor_requests()])

        @app.post(CONTROL_PREFIX + "reset")
        def _reset() -> Response:
            self.reset()
            return jsonify({"ok": True})
