"""Tenants: the file schema, applying it twice, credentials encrypted at rest (read from the raw column)."""

from __future__ import annotations

import copy
import json

import pytest
import sqlalchemy as sa

from possync.models.crypto import decrypt_json
from possync.models.tenant_file import TenantFileError, load_tenant_file, validate_tenant_data
from possync.models.tenants import apply_tenant, describe, get_tenant_by_shop, load_context, step_queue

TENANT = {
    "name": "acme",
    "account_name": "acmestore",
    "shopify": {"shop_domain": "acme.myshopify.com", "access_token": "shpat_secret_token_123",
                "client_secret": "whsec_shopify_456"},
    "pos": {"kind": "lightspeed-r", "account_id": "12345", "access_token": "ls_access_789",
            "refresh_token": "ls_refresh_abc", "client_id": "cid", "client_secret": "csecret"},
    "settings": {"customer_matching": "phone,email", "update_names": False},
}


def test_apply_round_trips_with_credentials_encrypted(session, secret_key: str) -> None:  # type: ignore[no-untyped-def]
    _, changed = apply_tenant(session, validate_tenant_data(TENANT), secret_key)
    session.commit()
    assert changed
    raw = session.execute(sa.text("SELECT shopify_secrets, pos_secrets FROM tenants WHERE name='acme'")).one()
    for column in raw:
        for secret in ("shpat_secret_token_123", "whsec_shopify_456", "ls_access_789", "ls_refresh_abc"):
            assert secret not in column
    assert decrypt_json(raw[1], secret_key)["refresh_token"] == "ls_refresh_abc"
    ctx = load_context(get_tenant_by_shop(session, "ACME.myshopify.com"), secret_key)
    assert ctx.shopify_secrets["access_token"] == "shpat_secret_token_123"
    assert ctx.settings.customer_matching == ("phone", "email") and ctx.settings.update_names is False
    assert step_queue(ctx.name, ctx.pos_kind, ctx.settings) == "pos.lightspeed_r"


def test_applying_the_same_file_twice_changes_nothing(session, secret_key: str) -> None:  # type: ignore[no-untyped-def]
    apply_tenant(session, validate_tenant_data(TENANT), secret_key)
    session.commit()
    stored = session.execute(sa.text("SELECT pos_secrets, updated_at FROM tenants")).one()
    _, changed = apply_tenant(session, validate_tenant_data(TENANT), secret_key)
    session.commit()
    assert not changed
    assert session.execute(sa.text("SELECT pos_secrets, updated_at FROM tenants")).one() == stored


def test_an_edited_file_updates_the_tenant(session, secret_key: str) -> None:  # type: ignore[no-untyped-def]
    apply_tenant(session, validate_tenant_data(TENANT), secret_key)
    edited = copy.deepcopy(TENANT)
    edited["pos"]["access_token"] = "rotated"
    edited["settings"]["dedicated_queue"] = True
    tenant, changed = apply_tenant(session, validate_tenant_data(edited), secret_key)
    assert changed
    ctx = load_context(tenant, secret_key)
    assert ctx.pos_secrets["access_token"] == "rotated"
    assert step_queue(ctx.name, ctx.pos_kind, ctx.settings) == "tenant.acme"


def test_show_masks_every_secret(session, secret_key: str) -> None:  # type: ignore[no-untyped-def]
    tenant, _ = apply_tenant(session, validate_tenant_data(TENANT), secret_key)
    described = describe(tenant, secret_key)
    shown = json.dumps(described)
    for secret in ("shpat_secret_token_123", "whsec_shopify_456", "ls_access_789", "ls_refresh_abc", "csecret"):
        assert secret not in shown
    # 16 characters or more: the last 4 only; shorter: nothing. Never the start or the length.
    assert described["shopify"]["access_token"] == "****_123"  # 22 characters
    assert described["shopify"]["client_secret"] == "****_456"  # 17
    assert described["pos"]["access_token"] == "****"  # 13
    assert described["pos"]["refresh_token"] == "****"  # 14
    assert described["pos"]["client_secret"] == "****"
    assert "shpa" not in shown and "whse" not in shown and "chars" not in shown
    assert described["shopify"]["previous_client_secret"] is None  # absent stays visibly absent


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (lambda d: d.update(colour="red"), "colour: unknown key"),
        (lambda d: d["pos"].update(kind="square"), "pos.kind"),
        (lambda d: d["pos"].pop("account_id"), "pos.account_id"),
        (lambda d: d["shopify"].pop("client_secret"), "shopify.client_secret"),
        (lambda d: d["settings"].update(customer_matching="name"), "settings.customer_matching"),
        (lambda d: d["settings"].update(poll_interval_seconds="often"), "settings.poll_interval_seconds"),
        (lambda d: d.update(name="Acme Store"), "name"),
        (lambda d: d["pos"].update(base_url="http://pos.example.com"), "pos.base_url: must be an https:// URL"),
        (lambda d: d["pos"].update(base_url="http://127.0.0.1.evil.example"), "pos.base_url: must be an https://"),
        (lambda d: d["pos"].update(base_url="ftp://pos.example.com"), "pos.base_url: must be an https://"),
        (lambda d: d["shopify"].update(api_base_url="http://shop.example.com"), "shopify.api_base_url: must be"),
        (lambda d: d["pos"].update(kind="heartland", subdomain="evil.example/x"), "pos.subdomain: must be one host"),
        (lambda d: d["pos"].update(kind="heartland", subdomain="acme.evil.example"), "pos.subdomain: must be one"),
        (lambda d: d["pos"].update(kind="lightspeed-x", domain_prefix="a b"), "pos.domain_prefix: must be one"),
    ],
    ids=["unknown-key", "bad-kind", "missing-account", "missing-secret", "bad-matching", "bad-interval", "bad-name",
         "pos-http", "pos-http-loopback-lookalike", "pos-ftp", "shopify-http", "subdomain-path", "subdomain-dots",
         "domain-prefix-space"],
)
def test_bad_files_are_rejected_naming_the_key(change, named: str) -> None:  # type: ignore[no-untyped-def]
    data = copy.deepcopy(TENANT)
    change(data)
    with pytest.raises(TenantFileError, match=named.replace(".", r"\.")):
        validate_tenant_data(data)


@pytest.mark.parametrize(
    "url", ["https://pos.example.com", "http://127.0.0.1:8080", "http://127.9.9.9/", "http://[::1]:9000",
            "http://localhost:5000/api", "http://LOCALHOST:1"])
def test_vendor_urls_are_https_or_this_machine(url: str) -> None:
    data = copy.deepcopy(TENANT)
    data["pos"]["base_url"] = url
    data["shopify"]["api_base_url"] = url
    loaded = validate_tenant_data(data)
    assert loaded["pos"]["base_url"] == url and loaded["shopify"]["api_base_url"] == url


def test_yaml_and_json_files_load(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import yaml

    (tmp_path / "t.json").write_text(json.dumps(TENANT))
    (tmp_path / "t.yaml").write_text(yaml.safe_dump(TENANT))
    assert load_tenant_file(tmp_path / "t.json") == load_tenant_file(tmp_path / "t.yaml")
    (tmp_path / "bad.json").write_text("{nope")
    with pytest.raises(TenantFileError, match="not valid JSON"):
        load_tenant_file(tmp_path / "bad.json")


SHIPSTATION = {"api_key": "ss_key_0123456789abcdef", "api_secret": "ss_secret_0123456789abcd",
               "base_url": None, "tag_rules": {"vip": "VIP"}}


def test_the_shipstation_block_is_stored_encrypted_and_shown_masked(session, secret_key: str) -> None:  # type: ignore[no-untyped-def]
    data = validate_tenant_data({**TENANT, "shipstation": SHIPSTATION})
    tenant, _ = apply_tenant(session, data, secret_key)
    session.commit()
    raw = session.execute(sa.text("SELECT shipstation_secrets, shipstation_config FROM tenants")).one()
    assert "ss_secret_0123456789abcd" not in raw[0] and "ss_key_0123456789abcdef" not in raw[0]
    assert "ss_secret" not in json.dumps(raw[1]) and raw[1]["tag_rules"] == {"vip": "VIP"}
    shown = describe(tenant, secret_key)["shipstation"]
    assert shown == {"api_key": "****cdef", "api_secret": "****abcd", "base_url": None, "tag_rules": {"vip": "VIP"}}
    _, changed = apply_tenant(session, validate_tenant_data({**TENANT, "shipstation": SHIPSTATION}), secret_key)
    assert not changed
    _, changed = apply_tenant(session, validate_tenant_data(TENANT), secret_key)  # block removed
    assert changed and tenant.shipstation_secrets is None and "shipstation" not in describe(tenant, secret_key)


@pytest.mark.parametrize(("block", "named"), [
    ({"api_secret": "x"}, "shipstation.api_key: Missing data for required field"),
    ({**SHIPSTATION, "base_url": "http://ssapi.example.com"}, "shipstation.base_url"),
    ({**SHIPSTATION, "tag_rules": {"vip": ""}}, "shipstation.tag_rules"),
    ({**SHIPSTATION, "extra": 1}, "shipstation.extra: unknown key"),
])
def test_bad_shipstation_blocks_are_rejected_naming_the_key(block, named: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(TenantFileError, match=named.replace(".", r"\.")):
        validate_tenant_data({**TENANT, "shipstation": block})
# --- the CRM destination (INTERFACE.md `crm`; SPEC section 10) ----------------------------------------------
CRM_KEY = "fs_api_key_0123456789abcdef"
CRM_ONLY = {**{k: v for k, v in TENANT.items() if k != "pos"}, "pos": None,
            "crm": {"kind": "freshsales", "domain": "acme", "api_key": CRM_KEY}}


def test_a_crm_only_tenant_keeps_its_key_encrypted_and_shows_it_masked(session, secret_key: str) -> None:  # type: ignore[no-untyped-def]
    tenant, _ = apply_tenant(session, validate_tenant_data(copy.deepcopy(CRM_ONLY)), secret_key)
    session.commit()
    raw = session.execute(sa.text("SELECT crm_secrets, crm_config, pos_kind FROM tenants WHERE name='acme'")).one()
    assert CRM_KEY not in raw[0] and CRM_KEY not in json.dumps(raw[1]) and raw[2] is None
    assert decrypt_json(raw[0], secret_key) == {"api_key": CRM_KEY}
    shown = describe(tenant, secret_key)
    assert shown["pos"] is None and shown["crm"]["api_key"] == "****cdef" and CRM_KEY not in json.dumps(shown)
    context = load_context(tenant, secret_key)
    assert not context.has_pos and context.crm_secrets == {"api_key": CRM_KEY}
    assert context.crm_config == {"domain": "acme", "base_url": None, "requests_per_hour": 1000,
                                  "sms_subscribed_when_phone": False}
    _, changed = apply_tenant(session, validate_tenant_data(copy.deepcopy(CRM_ONLY)), secret_key)
    assert not changed


@pytest.mark.parametrize(("change", "named"), [
    (lambda d: d.update(crm=None), "pos: may be null only when crm is given"),
    (lambda d: d["crm"].pop("api_key"), "crm.api_key"),
    (lambda d: d["crm"].update(kind="salesforce"), "crm.kind"),
    (lambda d: d["crm"].pop("domain"), "crm.domain: is required unless crm.base_url is given"),
    (lambda d: d["crm"].update(domain="evil.example/x"), "crm.domain"),
    (lambda d: d["crm"].update(requests_per_hour=0), "crm.requests_per_hour"),
    (lambda d: d["crm"].update(base_url="http://crm.example.com"), "crm.base_url"),
])
def test_bad_crm_blocks_are_rejected_naming_the_key(change, named: str) -> None:  # type: ignore[no-untyped-def]
    data = copy.deepcopy(CRM_ONLY)
    change(data)
    with pytest.raises(TenantFileError, match=named.replace(".", r"\.")):
        validate_tenant_data(data)
