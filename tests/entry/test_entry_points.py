"""The production entry points load no test or demo machinery: no vendor fake, no Flask test client, no
cheroot, no fakeredis. A worker that resolves every vendor package must not pay for (or expose) a fake."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from possync.entry.cli import demo as demo_command

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import importlib, json, sys
from possync.entry.cli import cli             # the `possync` command, every subcommand loaded
for name in cli.list_commands(None):
    cli.get_command(None, name)
import possync.entry.web.wsgi                  # the receiver under gunicorn
import celery.apps.worker               # what `possync worker` starts
from possync.worker.celery_app import TASK_MODULES
for name in TASK_MODULES:
    importlib.import_module(name)
from possync.adapters.registry import PACKAGES  # every vendor package, as a worker resolves them
for name in PACKAGES.values():
    importlib.import_module(name)
import possync.adapters.shopify.client
print(json.dumps(sorted(sys.modules)))
"""

# flask.testing is Flask's test client; werkzeug.test is not listed: Flask itself imports it.
FORBIDDEN_PREFIXES = ("cheroot", "fakeredis", "flask.testing", "possync.adapters.fakes")


def forbidden(modules: list[str]) -> list[str]:
    return [m for m in modules if m.startswith(FORBIDDEN_PREFIXES) or ".fake" in m or m.endswith(".fake")]


def test_the_forbidden_list_catches_a_fake() -> None:
    assert forbidden(["possync.adapters.heartland.fake", "possync.adapters.lightspeed_r.fake.query", "cheroot.wsgi",
                      "flask.testing", "possync.adapters.heartland.mapping"]) == [
        "possync.adapters.heartland.fake", "possync.adapters.lightspeed_r.fake.query", "cheroot.wsgi", "flask.testing"]


def test_worker_cli_and_receiver_import_no_fake(pg_url: str, secret_key: str, redis_server_url: str) -> None:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("POSSYNC_")}
    env = {**clean, "POSSYNC_DATABASE_URL": pg_url, "POSSYNC_SECRET_KEY": secret_key,
           "POSSYNC_REDIS_URL": redis_server_url}
    result = subprocess.run([sys.executable, "-c", PROBE], env=env, cwd=ROOT, capture_output=True, text=True,
                            timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    modules = json.loads(result.stdout.strip().splitlines()[-1])
    assert "possync.entry.web.wsgi" in modules and "possync.adapters.heartland.adapter" in modules
    assert forbidden(modules) == []


def test_demo_without_its_extra_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner

    real = demo_command.importlib.util.find_spec
    monkeypatch.setattr(demo_command.importlib.util, "find_spec",
                        lambda name, *a: None if name == "cheroot" else real(name, *a))
    result = CliRunner().invoke(demo_command.demo, [])
    assert result.exit_code == 1
    assert "pip install 'possync[demo]'" in result.output and "cheroot" in result.output
