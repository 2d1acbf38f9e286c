"""The receiver app with the console on, a tenant, and a client that logs in (or not)."""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient

from possync.entry.web.app import create_app
from tests.entry.web.conftest import Recorder

LOGIN = "ops:a-long-console-password"


def auth(login: str = LOGIN) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(login.encode()).decode()}


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "the page has no CSRF token"
    return match.group(1)


@pytest.fixture
def console_app(db_url: str, secret_key: str, tenant_id: int, activate_env, redis_server_url: str,  # type: ignore[no-untyped-def]
                redis_prefix: str) -> Flask:
    # Actions go through the CLI's functions, which read the process settings: the test's database and a
    # Redis of their own, so a replayed job is handed to a queue no worker reads and stays pending.
    activate_env(POSSYNC_DATABASE_URL=db_url, POSSYNC_REDIS_URL=redis_server_url, POSSYNC_REDIS_KEY_PREFIX=redis_prefix)
    return create_app(db_url, secret_key, Recorder(), console_auth=LOGIN)


@pytest.fixture
def console(console_app: Flask) -> Iterator[FlaskClient]:
    with console_app.test_client() as c:
        yield c
