"""A fake Shopify served on 127.0.0.1 for the adapter tests, and a client pointed at it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from possync.adapters.shopify.client import ShopifyClient
from possync.adapters.shopify.fake import FakeShopify

TOKEN = "shpat_test_token"


@pytest.fixture
def fake() -> Iterator[FakeShopify]:
    server = FakeShopify(TOKEN, shop_domain="acme.myshopify.com")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def client(fake: FakeShopify) -> ShopifyClient:
    return ShopifyClient("acme.myshopify.com", TOKEN, base_url=fake.url)


class Capture:
    """A tiny HTTP endpoint on 127.0.0.1 that records what was POSTed to it (a webhook receiver)."""

    def __init__(self) -> None:
        from flask import Flask, request
        from werkzeug.datastructures import Headers

        self.received: list[tuple[Headers, bytes]] = []  # headers stay case-insensitive
        self.app = Flask("capture")

        @self.app.post("/hook")
        def hook() -> tuple[str, int]:
            self.received.append((Headers(request.headers), request.get_data()))
            return "", 200

    def start(self) -> str:
        import threading

        from werkzeug.serving import make_server

        self.server = make_server("127.0.0.1", 0, self.app, threaded=True)
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return f"http://127.0.0.1:{self.server.port}/hook"


@pytest.fixture
def capture() -> Iterator[Capture]:
    receiver = Capture()
    receiver.start()
    yield receiver
    receiver.server.shutdown()
    receiver.server.server_close()
