"""The operator console at /console (INTERFACE.md, "HTTP"): server-rendered pages over `possync.tasks.console`.

Served by the receiver process only when `POSSYNC_CONSOLE_BASIC_AUTH` is set; otherwise /console is a 404.
"""

from __future__ import annotations

from flask import Flask

from possync.entry.web.console import security
from possync.entry.web.console.views import blueprint


def register(app: Flask, database_url: str, secret_key: str, basic_auth: str | None) -> None:
    if not basic_auth:
        return
    security.configure(app, secret_key, basic_auth)
    app.extensions["possync.console.database_url"] = database_url
    app.extensions["possync.console.secret_key"] = secret_key  # decrypts a tenant's Shopify token for a merge
    app.register_blueprint(blueprint)
