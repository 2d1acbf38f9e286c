"""The `possync` command as operators run it: a real subprocess with its own environment."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

TENANT = {
    "name": "acme",
    "account_name": "acmestore",
    "shopify": {"shop_domain": "acme.myshopify.com", "access_token": "shpat_secret", "client_secret": "hush"},
    "pos": {"kind": "heartland", "subdomain": "acme", "access_token": "hl_token_secret"},
}
COMMANDS = ["db", "tenant", "serve", "worker", "beat", "poll", "sync", "failed", "replay", "status", "privacy",
            "flower", "demo"]


def possync(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if not k.startswith("POSSYNC_")} | env
    return subprocess.run([sys.executable, "-m", "possync.entry.cli", *args], capture_output=True, text=True, env=full,
                          timeout=60, check=False)


def test_help_lists_every_interface_command() -> None:
    out = possync("--help", env={}).stdout
    for command in COMMANDS:
        assert f"  {command} " in out


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_db_upgrade_then_tenant_apply_list_show(backend: str, tmp_path: Path, pg_url: str, secret_key: str) -> None:
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'p.db'}"
    else:
        url = pg_url.rsplit("/", 1)[0] + "/possync_cli_" + uuid.uuid4().hex[:10]
        admin = sa.create_engine(pg_url.rsplit("/", 1)[0] + "/postgres", isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}"'))
            conn.execute(sa.text(f'CREATE DATABASE "{url.rsplit("/", 1)[1]}"'))
    env = {"POSSYNC_DATABASE_URL": url, "POSSYNC_SECRET_KEY": secret_key}
    try:
        assert possync("db", "upgrade", env=env).returncode == 0
        file = tmp_path / "acme.json"
        file.write_text(json.dumps(TENANT))
        applied = possync("tenant", "apply", str(file), env=env)
        assert applied.returncode == 0, applied.stderr
        assert "applied" in applied.stdout
        assert "unchanged" in possync("tenant", "apply", str(file), env=env).stdout
        listed = possync("tenant", "list", "--json", env=env)
        assert listed.returncode == 0, listed.stderr
        assert json.loads(listed.stdout)[0]["name"] == "acme"
        shown = possync("tenant", "show", "acme", env=env)
        assert shown.returncode == 0, shown.stderr
        assert json.loads(shown.stdout)["pos"]["kind"] == "heartland"
        assert "hl_token_secret" not in shown.stdout and "shpat_secret" not in shown.stdout
    finally:
        if backend == "postgresql":
            sa.create_engine(url).dispose()
            with admin.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)'))


def test_bad_input_exits_non_zero_with_one_line(tmp_path: Path, secret_key: str) -> None:
    env = {"POSSYNC_DATABASE_URL": f"sqlite:///{tmp_path / 'p.db'}", "POSSYNC_SECRET_KEY": secret_key}
    possync("db", "upgrade", env=env)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({**TENANT, "colour": "red"}))
    result = possync("tenant", "apply", str(bad), env=env)
    assert result.returncode != 0
    assert result.stderr.strip() == "possync: colour: unknown key"
    missing_key = possync("tenant", "show", "acme", env={"POSSYNC_DATABASE_URL": env["POSSYNC_DATABASE_URL"]})
    assert missing_key.returncode != 0 and "POSSYNC_SECRET_KEY" in missing_key.stderr
    assert len(missing_key.stderr.strip().splitlines()) == 1


def test_multi_process_commands_need_redis(tmp_path: Path, secret_key: str) -> None:
    env = {"POSSYNC_DATABASE_URL": f"sqlite:///{tmp_path / 'p.db'}", "POSSYNC_SECRET_KEY": secret_key}
    for command in ("worker", "beat"):
        result = possync(command, env=env)
        assert result.returncode != 0 and "POSSYNC_REDIS_URL" in result.stderr


def test_flower_refuses_without_basic_auth(tmp_path: Path) -> None:
    result = possync("flower", env={"POSSYNC_REDIS_URL": "redis://127.0.0.1:6379/0"})
    assert result.returncode != 0 and "POSSYNC_FLOWER_BASIC_AUTH" in result.stderr


def test_a_group_or_world_readable_env_file_is_warned_about_at_start(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("POSTGRES_PASSWORD=4f1c9e2a77d0\n")
    env_file.chmod(0o644)
    full = {k: v for k, v in os.environ.items() if not k.startswith("POSSYNC_")}
    full["PYTHONPATH"] = str(Path(__file__).resolve().parents[3])
    result = subprocess.run([sys.executable, "-m", "possync.entry.cli", "tenant", "--help"], capture_output=True,
                            text=True, env=full, cwd=tmp_path, timeout=60, check=False)
    assert result.returncode == 0  # a warning, not a refusal: possync itself does not read .env
    assert "readable by others (mode 0644); run chmod 600" in result.stderr
    env_file.chmod(0o600)
    quiet = subprocess.run([sys.executable, "-m", "possync.entry.cli", "tenant", "--help"], capture_output=True,
                           text=True, env=full, cwd=tmp_path, timeout=60, check=False)
    assert quiet.stderr == ""
