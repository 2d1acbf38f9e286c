"""`possync shipstation read|export|duplicates` as a merchant runs them, through real `possync`
subprocesses on the embedded default (SQLite, no Redis: reading runs in the calling process)."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from possync.adapters.heartland.fake import FakeServer as HeartlandFake
from possync.adapters.shipstation.fake import FakeShipStation
from possync.adapters.shopify.fake import FakeShopify
from tests.entry.cli.test_commands import possync

HOME = {"street1": "Calle Mayor 1", "city": "Madrid", "state": "M", "postal_code": "28013", "country_code": "ES"}


@pytest.fixture
def stack(tmp_path: Path, secret_key: str) -> Iterator[tuple[dict[str, str], FakeShopify, FakeShipStation, Path]]:
    shopify, pos = FakeShopify("shpat_ss", shop_domain="ss.myshopify.com"), HeartlandFake(api_token="hl")
    shipstation = FakeShipStation("key", "secret-0123456789abc")
    for fake in (shopify, pos, shipstation):
        fake.start()
    env = {"POSSYNC_DATABASE_URL": f"sqlite:///{tmp_path / 'ss.db'}", "POSSYNC_SECRET_KEY": secret_key}
    assert possync("db", "upgrade", env=env).returncode == 0
    tenant: dict[str, Any] = {
        "name": "ss", "account_name": "ssstore",
        "shopify": {"shop_domain": "ss.myshopify.com", "access_token": "shpat_ss", "client_secret": "x",
                    "api_base_url": shopify.url},
        "pos": {"kind": "heartland", "subdomain": "ss", "access_token": "hl", "base_url": pos.url},
        "shipstation": {"api_key": "key", "api_secret": "secret-0123456789abc", "base_url": shipstation.url,
                        "tag_rules": {"VIP": "VIP"}},
    }
    (tmp_path / "ss.json").write_text(json.dumps(tenant))
    assert possync("tenant", "apply", str(tmp_path / "ss.json"), env=env).returncode == 0
    yield env, shopify, shipstation, tmp_path
    for fake in (shopify, pos, shipstation):
        fake.stop()


def test_read_export_and_duplicates(stack) -> None:  # type: ignore[no-untyped-def]
    env, shopify, shipstation, tmp_path = stack
    shown = json.loads(possync("tenant", "show", "ss", env=env).stdout)["shipstation"]
    assert shown["api_secret"] == "****9abc" and shown["api_key"] == "****"
    shopify.add_customer("Ana", "Ruiz", "ana@example.com", tags=["vip"],
                         address={"address1": "Gran Via 5", "city": "Madrid", "provinceCode": "M", "zip": "28013",
                                  "countryCode": "ES"})
    no_address = shopify.add_customer("Bo", "Ruiz", "bo@example.com")
    shipstation.add_customer(name="Cy", email="cy@example.com", **HOME)
    shipstation.add_customer(name="Cy", email="cy.work@example.com", **HOME)

    export_early = possync("shipstation", "export", "--tenant", "ss", "--out", str(tmp_path / "x.csv"), env=env)
    assert export_early.returncode == 2 and "possync shipstation read --tenant ss" in export_early.stderr

    read = possync("shipstation", "read", "--tenant", "ss", env=env)
    assert read.returncode == 0, read.stderr
    assert json.loads(read.stdout) == {"tenant": "ss", "full": True, "pages": 1, "customers": 2, "requests": 2}

    out = tmp_path / "import.csv"
    done = possync("shipstation", "export", "--tenant", "ss", "--out", str(out), "--json", env=env)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["rows"] == {"create": 1, "update": 0}
    assert summary["left_out"] == [{"shopify_customer_id": no_address,
                                    "reason": "missing address line 1, city, state, postal code, country code"}]
    assert f"left out Shopify customer {no_address}: missing address line 1" in done.stderr
    assert "ShipStation has no tag 'VIP'" in done.stderr and summary["missing_tags"] == ["VIP"]
    [row] = list(csv.DictReader(out.open(encoding="utf-8")))
    assert row["Tags"] == "VIP" and row["Address Line 1"] == "Gran Via 5"

    plan_csv = tmp_path / "plan.csv"
    dup = possync("shipstation", "duplicates", "--tenant", "ss", "--json", "--csv", str(plan_csv), env=env)
    assert dup.returncode == 0, dup.stderr
    [group] = json.loads(dup.stdout)["groups"]
    assert group["emails"] == ["cy.work@example.com", "cy@example.com"] and len(group["absorb"]) == 1
    assert next(csv.reader(plan_csv.open())) == ["address", "survivor", "absorb", "emails"]


def test_a_tenant_without_shipstation_and_a_bad_template_are_one_line_errors(stack) -> None:  # type: ignore[no-untyped-def]
    env, _, _, tmp_path = stack
    missing = possync("shipstation", "duplicates", "--tenant", "nope", env=env)
    assert missing.returncode == 2 and missing.stderr == "possync: no tenant named 'nope'\n"
    assert possync("shipstation", "read", "--tenant", "ss", env=env).returncode == 0
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"Username,City\r\n")
    refused = possync("shipstation", "export", "--tenant", "ss", "--out", str(tmp_path / "o.csv"), "--template",
                      str(bad), env=env)
    assert refused.returncode == 2 and refused.stderr.startswith("possync: the template has no column for")
    assert "Traceback" not in refused.stderr and not (tmp_path / "o.csv").exists()


def test_an_export_to_a_missing_folder_is_a_one_line_error(stack) -> None:  # type: ignore[no-untyped-def]
    env, _, _, tmp_path = stack
    assert possync("shipstation", "read", "--tenant", "ss", env=env).returncode == 0
    refused = possync("shipstation", "export", "--tenant", "ss", "--out", str(tmp_path / "no" / "o.csv"), env=env)
    assert refused.returncode == 2
    assert refused.stderr == f"possync: cannot write {tmp_path / 'no' / 'o.csv'}: No such file or directory\n"
