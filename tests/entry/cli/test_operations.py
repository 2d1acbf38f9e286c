"""Operator commands on the embedded default (SQLite, no Redis: work runs inline), against the fakes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from possync.adapters.heartland.fake import FakeServer as HeartlandFake
from possync.adapters.shopify.fake import FakeShopify
from tests.entry.cli.test_commands import possync

TOKEN = "hl-cli-token"


@pytest.fixture
def stack(tmp_path: Path, secret_key: str) -> Iterator[tuple[dict[str, str], FakeShopify, HeartlandFake]]:
    shopify, pos = FakeShopify("shpat_cli", shop_domain="cli.myshopify.com"), HeartlandFake(api_token=TOKEN)
    shopify.start()
    pos.start()
    env = {"POSSYNC_DATABASE_URL": f"sqlite:///{tmp_path / 'ops.db'}", "POSSYNC_SECRET_KEY": secret_key,
           "POSSYNC_RETRY_BACKOFF_MAX_SECONDS": "1"}
    assert possync("db", "upgrade", env=env).returncode == 0
    tenant = {"name": "cli", "account_name": "clistore",
              "shopify": {"shop_domain": "cli.myshopify.com", "access_token": "shpat_cli", "client_secret": "x",
                          "api_base_url": shopify.url},
              "pos": {"kind": "heartland", "subdomain": "cli", "access_token": TOKEN, "base_url": pos.url}}
    (tmp_path / "cli.json").write_text(json.dumps(tenant))
    assert possync("tenant", "apply", str(tmp_path / "cli.json"), env=env).returncode == 0
    assert possync("tenant", "import", "cli", env=env).returncode == 0  # before going live (SPEC rule 34)
    yield env, shopify, pos
    shopify.stop()
    pos.stop()


def test_sync_failed_list_show_replay_and_status(stack) -> None:  # type: ignore[no-untyped-def]
    env, shopify, pos = stack
    customer_id = shopify.add_customer("Rae", "Sun", "rae@example.com", None)  # no address: Heartland refuses
    result = possync("sync", "--tenant", "cli", "--shopify-customer", customer_id, env=env)
    assert result.returncode == 0, result.stderr
    failed = json.loads(possync("failed", "list", "--json", env=env).stdout)
    assert len(failed) == 1 and failed[0]["error_class"] == "missing_fields"
    assert "rae@example.com" not in result.stderr  # personal data stays out of the logs
    shown = json.loads(possync("failed", "show", str(failed[0]["id"]), env=env).stdout)
    assert shown["step"] == "upsert_pos_customer" and shown["attempts_log"][-1]["outcome"] == "fatal"

    with shopify.lock:  # the merchant adds the address in Shopify; the operator replays
        shopify._customers[customer_id]["addresses"] = [
            {"address1": "1 Main St", "city": "Austin", "province_code": "TX", "zip": "78701", "country_code": "US"}]
    replayed = possync("replay", str(failed[0]["id"]), env=env)
    assert replayed.returncode == 0 and "replayed 1" in replayed.stdout, replayed.stderr
    assert json.loads(possync("failed", "list", "--json", env=env).stdout) == []
    again = possync("replay", str(failed[0]["id"]), env=env)
    assert "replayed 0, skipped 1" in again.stdout  # it has since succeeded: nothing to do
    assert "rae@example.com" in str(pos.state())

    status = json.loads(possync("status", "--json", env=env).stdout)
    [row] = status["tenants"]
    assert row["tenant"] == "cli" and row["failed"] == 0 and row["succeeded"] == {"created": 1}


def test_poll_now_indexes_pos_customers(stack) -> None:  # type: ignore[no-untyped-def]
    env, _, pos = stack
    pos.seed([{"first_name": "Sam", "last_name": "Tor", "email": "sam@example.com"}])
    result = possync("poll", "--tenant", "cli", env=env)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["changed"] == 1 and summary["jobs"] == 1 and summary["cursor"]
    assert json.loads(possync("poll", "--tenant", "cli", env=env).stdout)["jobs"] == 0
    unknown = possync("poll", "--tenant", "nobody", env=env)
    assert unknown.returncode != 0 and "no tenant named 'nobody'" in unknown.stderr


def test_rule_52_a_broken_military_address_is_a_failed_sync_naming_the_field(stack) -> None:  # type: ignore[no-untyped-def]
    env, shopify, pos = stack
    address = {"address1": "PSC 3 BOX 123", "city": "fpo", "provinceCode": "Armed Forces Pacific", "zip": "09012",
               "countryCode": "JP"}  # an AE ZIP in an AP address
    customer_id = shopify.add_customer("Ty", "Vo", "ty@example.com", None, address=address)
    assert possync("sync", "--tenant", "cli", "--shopify-customer", customer_id, env=env).returncode == 0
    [failed] = json.loads(possync("failed", "list", "--json", env=env).stdout)
    assert failed["error_class"] == "missing_fields" and "billing address ZIP" in failed["error"]
    shown = json.loads(possync("failed", "show", str(failed["id"]), env=env).stdout)
    assert shown["warnings"] == [] and shown["tags_dropped"] == []
    assert pos.state()["customers"] == []  # nothing half-created
