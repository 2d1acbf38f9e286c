"""The console's guards: off without its setting, basic auth, CSRF on every action, headers, recorded reveals."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from possync.entry.web.app import create_app
from possync.models.db import session_scope
from possync.models.tables import ConsoleAction
from tests.entry.web.conftest import Recorder
from tests.entry.web.console.conftest import LOGIN, auth, csrf_of

PAGES = ["/console/", "/console/tenants", "/console/failed", "/console/customers?q=x", "/console/matches",
         "/console/audit", "/console/customers/acme/1001", "/console/static/console.css"]
ACTIONS = ["/console/failed/replay", "/console/failed/replay-all", "/console/matches/link",
           "/console/customers/acme/1001/reveal", "/console/customers/acme/1001/resync", "/console/tenants/acme/poll",
           "/console/matches/shopify-duplicates/acme/scan", "/console/matches/shopify-duplicates/acme/merge"]


def test_the_console_is_a_404_unless_its_login_is_set(db_url: str, secret_key: str, tenant_id: int) -> None:
    client = create_app(db_url, secret_key, Recorder()).test_client()
    for page in PAGES:
        assert client.get(page, headers=auth()).status_code == 404, page


@pytest.mark.parametrize("login", [None, "ops:wrong", "other:a-long-console-password", "ops",
                                   "ops:a-long-console-passwor"])
def test_no_page_and_no_action_without_the_login(console: FlaskClient, login: str | None) -> None:
    headers = auth(login) if login else {}
    for page in PAGES:
        response = console.get(page, headers=headers)
        assert response.status_code == 401, page
        assert response.headers["WWW-Authenticate"].startswith("Basic")
    for action in ACTIONS:
        assert console.post(action, headers=headers).status_code == 401, action
    assert console.get("/console/tenants", headers={"Authorization": "Basic !!notbase64"}).status_code == 401


def test_pages_carry_the_security_headers(console: FlaskClient) -> None:
    response = console.get("/console/tenants", headers=auth())
    assert response.status_code == 200
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert "script-src" not in response.headers["Content-Security-Policy"]  # default-src 'none': no script at all
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Cache-Control"] == "no-store"
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie


@pytest.mark.parametrize("request_from", [
    {"base_url": "https://ops.example.com"},  # TLS to the receiver itself
    {"base_url": "http://ops.example.com"},  # a public name: a proxy in front, or a mistake; never plain
    {"base_url": "http://127.0.0.1", "headers": {"X-Forwarded-For": "203.0.113.9"}},  # through a local proxy
    {"base_url": "http://127.0.0.1", "headers": {"X-Forwarded-Proto": "https"}},
    {"base_url": "http://127.0.0.1", "environ_overrides": {"REMOTE_ADDR": "192.0.2.7"}},  # another machine
])
def test_the_session_cookie_is_secure_unless_local_plain_http(console_app, request_from) -> None:  # type: ignore[no-untyped-def]
    headers = {**auth(), **request_from.pop("headers", {})}
    response = console_app.test_client().get("/console/tenants", headers=headers, **request_from)
    assert response.status_code == 200
    cookie = response.headers["Set-Cookie"]
    assert "; Secure" in cookie and "HttpOnly" in cookie and "SameSite=Strict" in cookie


@pytest.mark.parametrize("base_url", ["http://127.0.0.1:8000", "http://localhost", "http://[::1]:8000"])
def test_a_browser_on_this_machine_over_plain_http_keeps_its_session(console_app, base_url: str) -> None:  # type: ignore[no-untyped-def]
    """The demo and the browser test: a Secure cookie would never come back over http, and every action fail."""
    client = console_app.test_client()
    environ = {"REMOTE_ADDR": "::1"} if "::1" in base_url else {}
    response = client.get("/console/tenants", headers=auth(), base_url=base_url, environ_overrides=environ)
    assert "Secure" not in response.headers["Set-Cookie"]
    token = csrf_of(response.get_data(as_text=True))
    action = client.post("/console/failed/replay", headers=auth(), base_url=base_url, environ_overrides=environ,
                         data={"csrf_token": token})
    assert action.status_code == 302  # the token matched the session the cookie carried back


def test_no_action_without_the_csrf_token(console: FlaskClient, db_url: str) -> None:
    page = console.get("/console/tenants", headers=auth())
    token = csrf_of(page.get_data(as_text=True))
    for action in ACTIONS:
        assert console.post(action, headers=auth(), data={}).status_code == 400, action
        assert console.post(action, headers=auth(), data={"csrf_token": token[:-1] + "x"}).status_code == 400
    with session_scope(db_url) as session:
        assert session.scalars(select(ConsoleAction)).all() == []  # nothing done, nothing recorded


def test_a_token_of_another_session_is_refused(console_app, console: FlaskClient) -> None:  # type: ignore[no-untyped-def]
    other = console_app.test_client()
    token = csrf_of(other.get("/console/tenants", headers=auth()).get_data(as_text=True))
    console.get("/console/tenants", headers=auth())
    assert console.post("/console/customers/acme/1001/reveal", headers=auth(),
                        data={"csrf_token": token}).status_code == 400


def test_the_login_is_set_like_flowers(db_url: str, secret_key: str) -> None:
    from possync.worker.settings import SettingsError, load_settings

    assert load_settings({"POSSYNC_CONSOLE_BASIC_AUTH": LOGIN}).console_basic_auth == LOGIN
    assert load_settings({}).console_basic_auth is None
    for bad in ("ops", "ops:", ":pw", "a:b,c:d", "ops:change-me"):
        with pytest.raises(SettingsError, match="POSSYNC_CONSOLE_BASIC_AUTH"):
            load_settings({"POSSYNC_CONSOLE_BASIC_AUTH": bad})


@pytest.mark.parametrize("back", ["https://evil.example/", "//evil.example/console/", "/console/\\evil"])
def test_an_action_never_redirects_off_the_console(console: FlaskClient, back: str) -> None:
    token = csrf_of(console.get("/console/tenants", headers=auth()).get_data(as_text=True))
    response = console.post("/console/failed/replay", headers=auth(), data={"csrf_token": token, "back": back})
    assert response.status_code == 302 and response.headers["Location"] == "/console/failed"
