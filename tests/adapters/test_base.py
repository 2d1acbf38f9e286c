"""The shared HTTP layer of every vendor client: one connection pool per process, environment read once."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator

import pytest

from possync.adapters import base
from possync.adapters.base import VendorHttpClient, environment_settings, shared_transport
from possync.adapters.errors import FatalError


class KeepAliveHandler(http.server.BaseHTTPRequestHandler):
    """HTTP/1.1 with keep-alive, as the vendors answer (werkzeug's server, used by the fakes, always closes)."""

    protocol_version = "HTTP/1.1"
    peers: set[tuple[str, int]] = set()
    headers_seen: list[dict[str, str]] = []

    def do_GET(self) -> None:
        self.peers.add(self.client_address)
        self.headers_seen.append(dict(self.headers))
        body = b"{}"
        if self.path.startswith("/moved"):
            self.send_response(302)
            self.send_header("Location", "http://elsewhere.example/customers")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args: object) -> None:
        pass


@pytest.fixture
def keepalive_url() -> Iterator[str]:
    KeepAliveHandler.peers = set()
    KeepAliveHandler.headers_seen = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), KeepAliveHandler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_clients_built_one_after_another_reuse_the_vendor_connection(keepalive_url: str) -> None:
    for _ in range(3):  # a step builds its clients afresh; the TCP connection outlives them
        client = VendorHttpClient(keepalive_url)
        assert client.request("GET", "/customers").status_code == 200
    assert len(KeepAliveHandler.peers) == 1


def test_every_request_names_possync_and_carries_the_clients_headers(keepalive_url: str) -> None:
    client = VendorHttpClient(keepalive_url)
    client.request("GET", "/customers", headers={"X-Extra": "1"})
    sent = KeepAliveHandler.headers_seen[-1]
    assert sent["User-Agent"] == "possync" and sent["Accept"] == "application/json" and sent["X-Extra"] == "1"


def test_a_redirect_is_a_fatal_error_not_followed(keepalive_url: str) -> None:
    """A 3xx means a wrong base URL: fail naming it rather than send the credentials to another host."""
    with pytest.raises(FatalError, match="302") as caught:
        VendorHttpClient(keepalive_url).request("GET", "/moved", endpoint="GET /moved")
    assert caught.value.endpoint == "GET /moved"
    assert len(KeepAliveHandler.headers_seen) == 1  # elsewhere.example was never asked


def test_a_forked_process_gets_its_own_pools(monkeypatch: pytest.MonkeyPatch) -> None:
    parent = shared_transport()
    assert shared_transport() is parent
    monkeypatch.setattr(base.os, "getpid", lambda: -1)  # as in a child after fork: another pid
    child = shared_transport()
    assert child is not parent and list(base._transports) == [-1]


@pytest.fixture
def fresh_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy", "ALL_PROXY",
                 "all_proxy", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)
    base._environment_proxies.cache_clear()
    base._environment_ca_bundle.cache_clear()
    yield monkeypatch
    base._environment_proxies.cache_clear()
    base._environment_ca_bundle.cache_clear()


def _settings(url: str) -> dict:  # type: ignore[type-arg]
    proxies, verify = environment_settings(url)
    return {"proxies": proxies, "verify": verify}


def test_proxy_and_ca_bundle_variables_are_honoured(fresh_environment: pytest.MonkeyPatch) -> None:
    fresh_environment.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    fresh_environment.setenv("NO_PROXY", "internal.example")
    fresh_environment.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/company.pem")
    vendor = _settings("https://api.lightspeedapp.com/API/V3/Account/1/Customer.json")
    assert vendor["proxies"]["https"] == "http://proxy.example:3128"
    assert vendor["verify"] == "/etc/ssl/company.pem"
    assert "https" not in _settings("https://internal.example/graphql.json")["proxies"]
    assert _settings("http://127.0.0.1:8080/")["verify"] == "/etc/ssl/company.pem"


def test_the_environment_is_read_once_per_host(fresh_environment: pytest.MonkeyPatch) -> None:
    assert "https" not in _settings("https://acme.myshopify.com/admin/api/2026-07/graphql.json")["proxies"]
    fresh_environment.setenv("HTTPS_PROXY", "http://late.example:3128")  # a running process's env is fixed
    assert "https" not in _settings("https://acme.myshopify.com/admin/api/2026-07/graphql.json")["proxies"]
    assert base._environment_proxies.cache_info().hits >= 1


def test_the_fakes_keep_connections_alive_as_the_vendors_do(monkeypatch: pytest.MonkeyPatch) -> None:
    import urllib3.connection

    from possync.adapters.lightspeed_r.fake import FakeServer

    connects: list[object] = []
    real_connect = urllib3.connection.HTTPConnection.connect
    monkeypatch.setattr(urllib3.connection.HTTPConnection, "connect",
                        lambda self: connects.append(self) or real_connect(self))
    fake = FakeServer()
    url = fake.start()
    try:
        for _ in range(3):
            assert VendorHttpClient(url).request("GET", "/_control/state").status_code == 200
        assert len(connects) == 1  # one TCP connection served all three
    finally:
        fake.stop()
