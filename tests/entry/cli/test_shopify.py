"""`possync shopify duplicates` against the Shopify fake, through real `possync` subprocesses (embedded SQLite)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from possync.adapters.heartland.fake import FakeServer as HeartlandFake
from possync.adapters.shopify.fake import FakeShopify
from possync.models.db import session_scope
from possync.models.tables import ShopifyDuplicateScan
from tests.entry.cli.test_commands import possync


@pytest.fixture
def stack(tmp_path: Path, secret_key: str) -> Iterator[tuple[dict[str, str], FakeShopify]]:
    shopify, pos = FakeShopify("shpat_dup", shop_domain="dup.myshopify.com"), HeartlandFake(api_token="hl-dup")
    shopify.start()
    pos.start()
    env = {"POSSYNC_DATABASE_URL": f"sqlite:///{tmp_path / 'dup.db'}", "POSSYNC_SECRET_KEY": secret_key}
    assert possync("db", "upgrade", env=env).returncode == 0
    tenant = {"name": "dup", "account_name": "dupstore",
              "shopify": {"shop_domain": "dup.myshopify.com", "access_token": "shpat_dup", "client_secret": "x",
                          "api_base_url": shopify.url},
              "pos": {"kind": "heartland", "subdomain": "dup", "access_token": "hl-dup", "base_url": pos.url}}
    (tmp_path / "dup.json").write_text(json.dumps(tenant))
    assert possync("tenant", "apply", str(tmp_path / "dup.json"), env=env).returncode == 0
    yield env, shopify
    shopify.stop()
    pos.stop()


def _stored(env: dict[str, str]) -> list[dict]:
    with session_scope(env["POSSYNC_DATABASE_URL"]) as session:
        return list(session.scalars(select(ShopifyDuplicateScan.groups)).one())


def test_duplicates_lists_groups_with_blockers_and_limits_then_merges_one(stack) -> None:  # type: ignore[no-untyped-def]
    env, shopify = stack
    # Shopify's own uniqueness is by exact value; possync's keys see through case and formatting.
    zoe_old = shopify.add_customer("Zoe", None, "Zoe@Example.com", email_consent="SUBSCRIBED")
    zoe_new = shopify.add_customer("Zoe", "Ray", " zoe@example.com", tags=["VIP"])
    sub_a = shopify.add_customer("Al", None, "al@example.com")
    sub_b = shopify.add_customer("Al", None, "AL@example.com", merge_blockers=["SUBSCRIPTIONS"])
    big_a = shopify.add_customer("Bea", None, None, "+1 613 555 0100", tags=[f"a{i}" for i in range(200)])
    big_b = shopify.add_customer("Bea", None, None, "613-555-0100", tags=[f"b{i}" for i in range(60)])
    shopify.add_customer("Cal", None, "cal@example.com")  # nobody else

    listed = possync("shopify", "duplicates", "--tenant", "dup", "--json", env=env)
    assert listed.returncode == 0, listed.stderr
    body = json.loads(listed.stdout)
    assert body["tenant"] == "dup"
    assert body["groups"] == [
        {"customers": [zoe_old, zoe_new], "reason": "email", "blockers": [], "limits": [], "mergeable": True},
        {"customers": [sub_a, sub_b], "reason": "email", "blockers": ["SUBSCRIPTIONS"], "limits": [],
         "mergeable": False},
        {"customers": [big_a, big_b], "reason": "phone", "blockers": [], "limits": ["more than 250 merged tags"],
         "mergeable": False},
    ]
    assert [g["customers"] for g in _stored(env)] == [g["customers"] for g in body["groups"]]  # for the console
    table = possync("shopify", "duplicates", "--tenant", "dup", env=env)
    assert "3 group(s)" in table.stdout and "blocked: SUBSCRIPTIONS" in table.stdout

    refused = possync("shopify", "duplicates", "--tenant", "dup", "--merge", sub_b, "--into", sub_a, env=env)
    assert refused.returncode != 0 and refused.stderr.count("\n") == 1 and "SUBSCRIPTIONS" in refused.stderr
    assert "Traceback" not in refused.stderr
    strangers = possync("shopify", "duplicates", "--tenant", "dup", "--merge", zoe_new, "--into", sub_a, env=env)
    assert strangers.returncode != 0 and "not one person" in strangers.stderr

    merged = possync("shopify", "duplicates", "--tenant", "dup", "--merge", f"gid://shopify/Customer/{zoe_new}",
                     "--into", zoe_old, "--json", env=env)
    assert merged.returncode == 0, merged.stderr
    result = json.loads(merged.stdout)
    assert result["status"] == "COMPLETED" and result["resulting_customer_id"] == zoe_old
    customers = shopify.customers
    assert zoe_new not in customers
    assert customers[zoe_old]["last_name"] == "Ray" and customers[zoe_old]["tags"] == ["VIP"]
    assert customers[zoe_old]["email_consent"]["state"] == "SUBSCRIBED"
    assert [g["customers"] for g in _stored(env)] == [[sub_a, sub_b], [big_a, big_b]]  # the merged one has gone
    after = json.loads(possync("shopify", "duplicates", "--tenant", "dup", "--json", env=env).stdout)
    assert len(after["groups"]) == 2


def test_merge_keeps_a_subscription_either_side_had(stack) -> None:  # type: ignore[no-untyped-def]
    env, shopify = stack
    kept = shopify.add_customer("Di", None, "di@example.com", email_consent="NOT_SUBSCRIBED")
    gone = shopify.add_customer("Di", None, "DI@example.com", email_consent="SUBSCRIBED",
                                consent_updated_at="2026-01-01T00:00:00+00:00")
    merged = possync("shopify", "duplicates", "--tenant", "dup", "--merge", gone, "--into", kept, "--json", env=env)
    assert merged.returncode == 0, merged.stderr
    assert json.loads(merged.stdout)["consent_kept"] == ["email"]
    assert shopify.customers[kept]["email_consent"]["state"] == "SUBSCRIBED"
    assert shopify.operations.count("CustomerMerge") == 1


@pytest.mark.parametrize("args", [["--merge", "1"], ["--into", "1"], ["--merge", "abc", "--into", "1"]])
def test_bad_merge_options_are_one_line(stack, args: list[str]) -> None:  # type: ignore[no-untyped-def]
    env, _ = stack
    done = possync("shopify", "duplicates", "--tenant", "dup", *args, env=env)
    assert done.returncode != 0 and done.stderr.startswith("possync: ") and done.stderr.count("\n") == 1


def test_an_unknown_tenant_is_one_line(stack) -> None:  # type: ignore[no-untyped-def]
    env, _ = stack
    done = possync("shopify", "duplicates", "--tenant", "nope", env=env)
    assert done.returncode == 2 and "nope" in done.stderr and "Traceback" not in done.stderr
