"""`possync.entry.web.wsgi` builds the app from the environment and insists on Redis (gunicorn is multi-process)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.resilience.servers import SentinelGroup, free_port

PROBE = "import possync.entry.web.wsgi as w; print(sorted(r.rule for r in w.app.url_map.iter_rules()))"


def run_probe(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("POSSYNC_")}
    return subprocess.run([sys.executable, "-c", PROBE], env={**clean, **env}, capture_output=True, text=True,
                          timeout=60, check=False)


def test_wsgi_app_is_built_from_settings(pg_url: str, secret_key: str, redis_server_url: str) -> None:
    result = run_probe({"POSSYNC_DATABASE_URL": pg_url, "POSSYNC_SECRET_KEY": secret_key,
                        "POSSYNC_REDIS_URL": redis_server_url})
    assert result.returncode == 0, result.stderr[-2000:]
    assert "/webhooks/shopify" in result.stdout and "/readyz" in result.stdout


def test_wsgi_without_redis_names_the_variable(pg_url: str, secret_key: str) -> None:
    result = run_probe({"POSSYNC_DATABASE_URL": pg_url, "POSSYNC_SECRET_KEY": secret_key})
    assert result.returncode != 0 and "POSSYNC_REDIS_URL" in result.stderr


READYZ = ("import json, possync.entry.web.wsgi as w; r = w.app.test_client().get('/readyz'); "
          "print(json.dumps([r.status_code, r.get_json()]))")


def readyz(env: dict[str, str]) -> tuple[int, dict[str, str]]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("POSSYNC_")}
    result = subprocess.run([sys.executable, "-c", READYZ], env={**clean, **env}, capture_output=True, text=True,
                            timeout=60, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    status, body = json.loads(result.stdout.splitlines()[-1])
    return status, body


def test_readyz_pings_the_master_through_the_sentinels(pg_url: str, secret_key: str,
                                                       sentinel_group: SentinelGroup) -> None:
    env = {"POSSYNC_DATABASE_URL": pg_url, "POSSYNC_SECRET_KEY": secret_key, **sentinel_group.env()}
    assert readyz(env) == (200, {"status": "ready", "database": "ok", "broker": "ok"})


def test_readyz_is_not_ready_when_no_sentinel_answers(pg_url: str, secret_key: str) -> None:
    env = {"POSSYNC_DATABASE_URL": pg_url, "POSSYNC_SECRET_KEY": secret_key,
           "POSSYNC_REDIS_URL": f"sentinel://127.0.0.1:{free_port()}", "POSSYNC_REDIS_SENTINEL_MASTER": "m"}
    assert readyz(env) == (503, {"status": "not ready", "database": "ok",
                                 "broker": "unreachable (MasterNotFoundError)"})
