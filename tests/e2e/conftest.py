"""Fixtures of the end-to-end stack (see harness.py). One worker process per test session."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import redis

from possync.worker.settings import load_settings
from tests.conftest import RUN_ID
from tests.e2e.harness import (
    KINDS,
    ServedApp,
    Shop,
    WorkerProcess,
    add_tenant,
    make_pos_fake,
    tenant_file,
)

E2E_PREFIX = f"possync-e2e:{RUN_ID}:"
CONSOLE_LOGIN = "operator:e2e-console-password"  # the receiver serves the operator console too


@pytest.fixture(scope="session")
def e2e_env(pg_url: str, redis_server_url: str, secret_key: str) -> Iterator[dict[str, str]]:
    """The environment shared by this process and the worker process; this process is switched to it."""
    from possync.worker.runtime import activate

    env = {
        "POSSYNC_DATABASE_URL": pg_url,
        "POSSYNC_REDIS_URL": redis_server_url,
        "POSSYNC_SECRET_KEY": secret_key,
        "POSSYNC_REDIS_KEY_PREFIX": E2E_PREFIX,
        "POSSYNC_LOG_FORMAT": "json",
        "POSSYNC_SWEEP_AFTER_SECONDS": "5",
        "POSSYNC_RETRY_BACKOFF_MAX_SECONDS": "1",  # retries in seconds, not minutes
    }
    activate(load_settings(env))
    yield env
    client = redis.Redis.from_url(redis_server_url)
    for key in client.scan_iter(match=E2E_PREFIX + "*", count=1000):
        client.delete(key)
    client.close()


@pytest.fixture(scope="session")
def worker_process(e2e_env: dict[str, str]) -> Iterator[WorkerProcess]:
    from possync.worker.celery_app import app

    process = WorkerProcess(e2e_env)
    process.start()
    try:
        process.wait_ready(app)
        yield process
    finally:
        process.stop()


@pytest.fixture(scope="session")
def receiver(e2e_env: dict[str, str]) -> Iterator[ServedApp]:
    from possync.entry.web.app import create_app
    from possync.tasks.intake import enqueue_event

    served = ServedApp(create_app(e2e_env["POSSYNC_DATABASE_URL"], e2e_env["POSSYNC_SECRET_KEY"], enqueue_event,
                                  secrets_ttl=0.0, console_auth=CONSOLE_LOGIN))
    yield served
    served.stop()


@pytest.fixture
def make_shop(db_url: str, e2e_env: dict[str, str], receiver: ServedApp, worker_process: WorkerProcess):  # type: ignore[no-untyped-def]
    """Factory: a tenant of the given POS kind with fresh Shopify and POS fakes."""
    from possync.adapters.shopify.fake import FakeShopify
    from tests.e2e.harness import SHOPIFY_TOKEN

    started = []

    def make(kind: str, *, settings: dict | None = None, rate_limited: bool = False) -> Shop:
        name = f"{kind.split('-')[-1][0]}{uuid.uuid4().hex[:8]}"
        shopify = FakeShopify(SHOPIFY_TOKEN, shop_domain=f"{name}.myshopify.com", maximum_available=None)
        pos = make_pos_fake(kind, rate_limited=rate_limited)
        shopify.start()
        pos.start()
        started.extend([shopify, pos])
        secret = uuid.uuid4().hex
        add_tenant(db_url, e2e_env["POSSYNC_SECRET_KEY"], tenant_file(name, kind, shopify.url, pos, secret, settings))
        return Shop(name, kind, f"{name}.myshopify.com", secret, shopify, pos, receiver.url)

    yield make
    for fake in started:
        fake.stop()


@pytest.fixture(params=KINDS)
def shop(request, make_shop) -> Shop:  # type: ignore[no-untyped-def]
    """One tenant per POS kind (the test runs three times)."""
    return make_shop(request.param)
