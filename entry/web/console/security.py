"""The console's guards: basic auth (constant-time), a CSRF token on every action, security headers.

The session cookie (Flask's, signed with a key derived from POSSYNC_SECRET_KEY so every receiver process
reads it) carries the CSRF token and the customers this operator revealed; it is bound to the login. It is
`Secure` unless the browser is on this machine speaking plain http to a loopback address (`local_plain_http`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import ipaddress
import secrets

from flask import Flask, Response, abort, current_app, request, session
from flask.sessions import SecureCookieSessionInterface

CSRF_FIELD = "csrf_token"
HEADERS = {
    "Content-Security-Policy": ("default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
                                "frame-ancestors 'none'; base-uri 'none'"),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "Cross-Origin-Opener-Policy": "same-origin",
}


LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "[::1]"})
# A proxy names itself in these: behind one the browser's side may be another machine, so the cookie stays Secure.
PROXY_HEADERS = ("Forwarded", "X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host", "X-Real-IP")


def local_plain_http() -> bool:
    """A browser on this machine at http://127.0.0.1 or http://localhost (the demo, the browser test): the only
    case the cookie goes without `Secure`, which such a browser would otherwise not send back over http."""
    if request.scheme != "http" or any(name in request.headers for name in PROXY_HEADERS):
        return False
    host = request.host.rsplit(":", 1)[0] if not request.host.endswith("]") else request.host
    try:
        peer_is_local = ipaddress.ip_address(request.remote_addr or "").is_loopback
    except ValueError:
        peer_is_local = False
    return host.lower() in LOOPBACK_HOSTS and peer_is_local


class _SessionInterface(SecureCookieSessionInterface):
    def get_cookie_secure(self, app: Flask) -> bool:
        return not local_plain_http()


def configure(app: Flask, secret_key: str, basic_auth: str) -> None:
    app.secret_key = hmac.new(secret_key.encode(), b"possync console session", hashlib.sha256).digest()
    app.config.update(SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Strict", SESSION_COOKIE_PATH="/console")
    app.session_interface = _SessionInterface()
    app.extensions["possync.console.auth"] = basic_auth.encode()


def authenticated_user() -> str | None:
    """The basic-auth user when the header holds exactly the configured `user:password`."""
    header = request.headers.get("Authorization", "")
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic" or not encoded:
        return None
    try:
        given = base64.b64decode(encoded.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None
    expected: bytes = current_app.extensions["possync.console.auth"]
    if not hmac.compare_digest(given, expected):
        return None
    return given.split(b":", 1)[0].decode("utf-8", "replace")


def challenge() -> Response:
    return Response("authentication required\n", 401, {"WWW-Authenticate": 'Basic realm="possync console"',
                                                       "Content-Type": "text/plain; charset=utf-8", **HEADERS})


def bind_session(user: str) -> None:
    """A session made under another login starts afresh (its reveals and token are not this user's)."""
    if session.get("user") != user:
        session.clear()
        session["user"] = user
    if CSRF_FIELD not in session:
        session[CSRF_FIELD] = secrets.token_urlsafe(32)


def check_csrf() -> None:
    given = request.form.get(CSRF_FIELD, "")
    expected = session.get(CSRF_FIELD, "")
    if not given or not expected or not hmac.compare_digest(given.encode(), expected.encode()):
        abort(400, description="missing or wrong CSRF token: reload the page and try again")


def add_headers(response: Response) -> Response:
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)
    return response
