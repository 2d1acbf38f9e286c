"""`possync tenant webhook-url` (the X-Series URL with the tenant's token, and its rotation) and `tenant list`."""

from __future__ import annotations

import json
from pathlib import Path

from tests.entry.cli.test_commands import possync


def apply(tmp_path: Path, env: dict[str, str], name: str, pos: dict[str, str] | None,
          **more: object) -> str:
    tenant = {"name": name, "account_name": name,
              "shopify": {"shop_domain": f"{name}.myshopify.com", "access_token": "shpat_x", "client_secret": "x"},
              "pos": pos, **more}
    (tmp_path / f"{name}.json").write_text(json.dumps(tenant))
    result = possync("tenant", "apply", str(tmp_path / f"{name}.json"), env=env)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_webhook_url_prints_the_token_show_masks_it_rotate_replaces_it(tmp_path: Path, secret_key: str) -> None:
    env = {"POSSYNC_DATABASE_URL": f"sqlite:///{tmp_path / 'p.db'}", "POSSYNC_SECRET_KEY": secret_key}
    assert possync("db", "upgrade", env=env).returncode == 0
    assert "possync tenant webhook-url xs" in apply(tmp_path, env, "xs", {"kind": "lightspeed-x", "domain_prefix": "xs",
                                                                          "access_token": "t"})
    url = possync("tenant", "webhook-url", "xs", "--base-url", "https://sync.example.com/", env=env).stdout.strip()
    prefix = "https://sync.example.com/webhooks/lightspeed-x/xs/"
    assert url.startswith(prefix) and len(url.removeprefix(prefix)) >= 32
    token = url.removeprefix(prefix)
    assert possync("tenant", "webhook-url", "xs", env=env).stdout.strip() == f"/webhooks/lightspeed-x/xs/{token}"
    shown = json.loads(possync("tenant", "show", "xs", env=env).stdout)
    assert shown["webhook_url_path"] == f"/webhooks/lightspeed-x/xs/****{token[-4:]}"
    rotated = possync("tenant", "webhook-url", "xs", "--rotate", env=env).stdout.strip()
    assert rotated.startswith("/webhooks/lightspeed-x/xs/") and token not in rotated


def test_webhook_url_refuses_a_tenant_without_webhooks(tmp_path: Path, secret_key: str) -> None:
    env = {"POSSYNC_DATABASE_URL": f"sqlite:///{tmp_path / 'p.db'}", "POSSYNC_SECRET_KEY": secret_key}
    assert possync("db", "upgrade", env=env).returncode == 0
    apply(tmp_path, env, "rs", {"kind": "lightspeed-r", "account_id": "1", "access_token": "t"})
    refused = possync("tenant", "webhook-url", "rs", env=env)
    assert refused.returncode == 1 and refused.stderr.strip().startswith("possync: tenant rs is a lightspeed-r")
    unknown = possync("tenant", "webhook-url", "nobody", env=env)
    assert unknown.returncode == 2 and "no tenant named 'nobody'" in unknown.stderr


def test_list_shows_a_dash_for_the_pos_of_a_crm_only_tenant(tmp_path: Path, secret_key: str) -> None:
    env = {"POSSYNC_DATABASE_URL": f"sqlite:///{tmp_path / 'p.db'}", "POSSYNC_SECRET_KEY": secret_key}
    assert possync("db", "upgrade", env=env).returncode == 0
    apply(tmp_path, env, "rs", {"kind": "lightspeed-r", "account_id": "1", "access_token": "t"})
    apply(tmp_path, env, "crmonly", None, crm={"kind": "freshsales", "domain": "crmonly", "api_key": "k"})
    listed = possync("tenant", "list", env=env)
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.splitlines() == ["crmonly\tcrmonly.myshopify.com\t-", "rs\trs.myshopify.com\tlightspeed-r"]
    as_json = json.loads(possync("tenant", "list", "--json", env=env).stdout)
    assert [row["pos_kind"] for row in as_json] == [None, "lightspeed-r"]
