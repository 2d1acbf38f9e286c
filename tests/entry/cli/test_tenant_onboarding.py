"""Onboarding a shop from the command line, as a merchant does it: apply, import, preview, status.

The embedded default (SQLite, no Redis: the import runs in the calling process) against the Heartland
and Shopify fakes, through real `possync` subprocesses.
"""

from __future__ import annotations

import csv
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from possync.adapters.heartland.fake import FakeServer as HeartlandFake
from possync.adapters.shopify.fake import FakeShopify
from tests.entry.cli.test_commands import possync

TOKEN = "hl-onboard-token"
ADDRESS = {"address1": "1 Main St", "city": "Austin", "provinceCode": "TX", "zip": "78701", "countryCode": "US"}


@pytest.fixture
def stack(tmp_path: Path, secret_key: str) -> Iterator[tuple[dict[str, str], FakeShopify, HeartlandFake, Path]]:
    shopify, pos = FakeShopify("shpat_onb", shop_domain="onb.myshopify.com"), HeartlandFake(api_token=TOKEN)
    shopify.start()
    pos.start()
    database = tmp_path / "onboard.db"
    env = {"POSSYNC_DATABASE_URL": f"sqlite:///{database}", "POSSYNC_SECRET_KEY": secret_key}
    assert possync("db", "upgrade", env=env).returncode == 0
    tenant = {"name": "onb", "account_name": "onbstore",
              "shopify": {"shop_domain": "onb.myshopify.com", "access_token": "shpat_onb", "client_secret": "x",
                          "api_base_url": shopify.url},
              "pos": {"kind": "heartland", "subdomain": "onb", "access_token": TOKEN, "base_url": pos.url}}
    (tmp_path / "onb.json").write_text(json.dumps(tenant))
    yield env, shopify, pos, tmp_path
    shopify.stop()
    pos.stop()


def row_counts(database: Path) -> dict[str, int]:
    with sqlite3.connect(database) as conn:
        names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return {name: conn.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0] for name in names}


def test_apply_import_preview_status(stack) -> None:  # type: ignore[no-untyped-def]
    env, shopify, pos, tmp_path = stack
    applied = possync("tenant", "apply", str(tmp_path / "onb.json"), env=env)
    assert applied.returncode == 0, applied.stderr
    assert "run `possync tenant import onb` before going live" in applied.stdout
    [row] = json.loads(possync("status", "--json", env=env).stdout)["tenants"]
    assert row["import"] == {"status": "pending", "read": 0, "total": None, "pages": 0, "started_at": None,
                             "finished_at": None, "error": None}
    assert {"backlog", "failed", "last_poll", "cursor", "rate_limit"} <= set(row)  # the keys it had before

    early = possync("tenant", "preview", "onb", "--json", env=env)
    assert early.returncode != 0 and early.stdout == ""
    assert early.stderr.count("\n") == 1 and "run `possync tenant import onb` first" in early.stderr

    # The POS as staff keyed it: an email with stray blanks and capitals, and 250 more (three pages).
    [kept] = pos.seed([{"first_name": "Jane", "last_name": "Doe", "email": "  Jane.Doe@Example.com "}])
    pos.seed({"first_name": f"F{i}", "last_name": "L", "email": f"f{i}@example.com"} for i in range(250))
    imported = possync("tenant", "import", "onb", env=env)
    assert imported.returncode == 0, imported.stderr
    # Seeded a moment ago: the cursor hands out a few still-settling records a page (adapters/change_cursor.py).
    assert imported.stdout.startswith("tenant onb: POS import complete, 251 of 251 customers read in ")
    assert "onb: running, 251 of 251 customers read" not in imported.stderr  # one line per 10 pages only
    [row] = json.loads(possync("status", "--json", env=env).stdout)["tenants"]
    assert row["import"]["status"] == "complete" and (row["import"]["read"], row["import"]["total"]) == (251, 251)
    assert "POS import complete 251/251" in possync("status", env=env).stdout

    jane = shopify.add_customer("Jane", "Doe", "jane.doe@example.com", None, address=ADDRESS)
    new = shopify.add_customer("Nia", "Park", "nia@example.com", "+1 512-555-0199", address=ADDRESS)
    bare = shopify.add_customer("Bo", "Berg", "bo@example.com", None)  # no address: Heartland refuses
    counts, pos_requests = row_counts(tmp_path / "onboard.db"), len(pos.vendor_requests())

    shown = possync("tenant", "preview", "onb", "--json", env=env)
    assert shown.returncode == 0, shown.stderr
    reason = ("Heartland needs an email and a complete address to create a customer; missing: billing address "
              "street address, billing address city, billing address state/province, billing address postal code,"
              " billing address country. Add them to the customer in Shopify and the sync is retried.")
    expected: dict[str, Any] = {
        "tenant": "onb",
        "summary": {"link": 1, "ambiguous": 0, "create": 1, "refused": 1},
        "customers": [
            {"shopify_customer_id": jane, "action": "link", "pos_customer_id": str(kept), "candidates": [str(kept)],
             "matched_on": "email", "reason": None},
            {"shopify_customer_id": new, "action": "create", "pos_customer_id": None, "candidates": [],
             "matched_on": None, "reason": None},
            {"shopify_customer_id": bare, "action": "refused", "pos_customer_id": None, "candidates": [],
             "matched_on": None, "reason": reason},
        ],
    }
    assert json.loads(shown.stdout) == expected
    assert shown.stdout == json.dumps(expected, indent=2, sort_keys=True) + "\n"  # as every --json prints

    table = possync("tenant", "preview", "onb", "--csv", str(tmp_path / "plan.csv"), env=env)
    assert table.returncode == 0, table.stderr
    assert "onb: 3 Shopify customers: link 1, ambiguous 0, create 1, refused 1" in table.stdout
    assert f"{jane:<16} link       {kept!s:<38} email" in table.stdout
    with (tmp_path / "plan.csv").open(newline="") as handle:
        plan = list(csv.DictReader(handle))
    assert [(r["shopify_customer_id"], r["action"], r["pos_customer_id"]) for r in plan] == [
        (jane, "link", str(kept)), (new, "create", ""), (bare, "refused", "")]
    assert plan[2]["reason"] == reason

    # Nothing written anywhere: not a row, not a POS request; Shopify was only listed.
    assert row_counts(tmp_path / "onboard.db") == counts
    assert len(pos.vendor_requests()) == pos_requests
    assert set(shopify.operations) == {"ListCustomers"}


def test_import_of_an_unknown_tenant_and_a_second_import(stack) -> None:  # type: ignore[no-untyped-def]
    env, _shopify, pos, tmp_path = stack
    missing = possync("tenant", "import", "nobody", env=env)
    assert missing.returncode != 0 and missing.stderr.strip() == "possync: no tenant named 'nobody'"
    possync("tenant", "apply", str(tmp_path / "onb.json"), env=env)
    assert possync("tenant", "import", "onb", env=env).returncode == 0
    before = len(pos.vendor_requests())
    again = possync("tenant", "import", "onb", env=env)
    assert again.returncode == 0 and "complete, 0 of 0 customers read in 1 pages" in again.stdout, again.stdout
    assert len(pos.vendor_requests()) == before  # complete: nothing read again
    restarted = possync("tenant", "import", "onb", "--restart", env=env)
    assert restarted.returncode == 0 and len(pos.vendor_requests()) == before + 2  # its count, its one page


def test_no_manual_poll_or_inline_sync_before_the_import(stack) -> None:  # type: ignore[no-untyped-def]
    env, _shopify, pos, tmp_path = stack
    possync("tenant", "apply", str(tmp_path / "onb.json"), env=env)
    refused = possync("poll", "--tenant", "onb", env=env)
    assert refused.returncode != 0 and pos.vendor_requests() == []
    assert refused.stderr.strip() == ("possync: tenant onb: no poll before its POS import is complete (pending, 0 "
                                      "customers read); see `possync tenant import onb`")
    synced = possync("sync", "--tenant", "onb", "--shopify-customer", "7208000000001", env=env)
    assert synced.returncode != 0 and "possync: tenant onb: no sync before its POS import" in synced.stderr
