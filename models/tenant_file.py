"""The tenant file (INTERFACE.md, "Tenant file"): its marshmallow schema.

Unknown keys, missing required keys and bad values reject the whole file with the key named; the
loaded value is plain dicts ready for `possync.models.tenants.apply_tenant`.
"""

from __future__ import annotations

import ipaddress
import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml
from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from possync.models.shopify_values import SHOPIFY_API_VERSION
from possync.models.tables import PosKind
from possync.models.tenants import DEFAULT_POLL_INTERVAL_SECONDS

CRM_KINDS = ("freshsales",)
MATCHING_ORDERS = ("email,phone", "phone,email", "email", "phone")
# Canonical fields Heartland keeps in merchant custom fields (SPEC rule 24).
HEARTLAND_CUSTOM_FIELD_NAMES = ("email_opt_in", "sms_opt_in", "birthday", "tags")
SLUG = validate.Regexp(r"^[a-z0-9-]+$", error="must match [a-z0-9-]+")
# A vendor sub-domain (X-Series `domain_prefix`, Heartland `subdomain`) is one DNS label: anything else
# (`evil.example/x`, `a.b`) would send the tenant's token to another host.
HOST_LABEL = validate.Regexp(re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$", re.IGNORECASE),
                             error="must be one host name label ([a-z0-9-], e.g. acme)")


def _is_loopback(host: str | None) -> bool:
    if not host:
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback  # 127.0.0.0/8 and ::1
    except ValueError:
        return False


def _https_or_loopback(url: str) -> None:
    """Vendor URLs carry bearer tokens: https, except to this machine (the fakes, a local proxy)."""
    parts = urlsplit(url)
    if parts.scheme == "https" or (parts.scheme == "http" and _is_loopback(parts.hostname)):
        return
    raise ValidationError("must be an https:// URL (http:// only for 127.0.0.0/8, ::1 or localhost)")


def _vendor_url() -> fields.Url:
    return fields.Url(load_default=None, allow_none=True, require_tld=False, validate=_https_or_loopback)


class TenantFileError(Exception):
    """The tenant file is invalid; the message names the key."""


class _Strict(Schema):
    class Meta:
        unknown = RAISE


class ShopifySection(_Strict):
    shop_domain = fields.String(
        required=True, validate=validate.Regexp(r"^[a-z0-9][a-z0-9-]*\.myshopify\.com$|^[a-z0-9.-]+(:\d+)?$")
    )
    access_token = fields.String(required=True, validate=validate.Length(min=1))
    client_secret = fields.String(required=True, validate=validate.Length(min=1))
    previous_client_secret = fields.String(load_default=None, allow_none=True)
    api_version = fields.String(load_default=SHOPIFY_API_VERSION, validate=validate.Regexp(r"^\d{4}-\d{2}$|^unstable$"))
    api_base_url = _vendor_url()


class PosSection(_Strict):
    kind = fields.String(required=True, validate=validate.OneOf([k.value for k in PosKind]))
    base_url = _vendor_url()
    account_id = fields.String(load_default=None, allow_none=True)
    domain_prefix = fields.String(load_default=None, allow_none=True, validate=HOST_LABEL)
    subdomain = fields.String(load_default=None, allow_none=True, validate=HOST_LABEL)
    access_token = fields.String(required=True, validate=validate.Length(min=1))
    refresh_token = fields.String(load_default=None, allow_none=True)
    client_id = fields.String(load_default=None, allow_none=True)
    client_secret = fields.String(load_default=None, allow_none=True)

    @validates_schema
    def _account_key_for_kind(self, data: dict[str, Any], **_: Any) -> None:
        needed = {"lightspeed-r": "account_id", "lightspeed-x": "domain_prefix", "heartland": "subdomain"}
        key = needed.get(data.get("kind", ""))
        if key and not data.get(key):
            raise ValidationError(f"is required when pos.kind is {data['kind']}", key)


class CrmSection(_Strict):
    """The CRM destination (SPEC section 10): Freshworks CRM (Freshsales) today."""

    kind = fields.String(required=True, validate=validate.OneOf(CRM_KINDS))
    domain = fields.String(load_default=None, allow_none=True, validate=HOST_LABEL)
    base_url = _vendor_url()
    api_key = fields.String(required=True, validate=validate.Length(min=1))
    requests_per_hour = fields.Integer(load_default=1000, validate=validate.Range(min=1))
    sms_subscribed_when_phone = fields.Boolean(load_default=False)

    @validates_schema
    def _domain_or_base_url(self, data: dict[str, Any], **_: Any) -> None:
        if not data.get("domain") and not data.get("base_url"):
            raise ValidationError("is required unless crm.base_url is given", "domain")


class SettingsSection(_Strict):
    customer_matching = fields.String(load_default="email,phone", validate=validate.OneOf(MATCHING_ORDERS))
    update_names = fields.Boolean(load_default=True)
    conflicting_match = fields.String(load_default="new", validate=validate.OneOf(("new", "update", "link")))
    default_customer_id = fields.String(load_default=None, allow_none=True)
    sync_pos_to_shopify = fields.Boolean(load_default=True)
    poll_interval_seconds = fields.Integer(load_default=DEFAULT_POLL_INTERVAL_SECONDS,
                                           validate=validate.Range(min=5, max=86400))
    default_phone_region = fields.String(load_default="US", validate=validate.Regexp(r"^[A-Z]{2}$"))
    heartland_custom_fields = fields.Dict(
        keys=fields.String(validate=validate.OneOf(HEARTLAND_CUSTOM_FIELD_NAMES)), values=fields.String(),
        load_default=dict,
    )
    # Beyond INTERFACE.md's example: a tenant big enough for its own queue `tenant.<name>`.
    dedicated_queue = fields.Boolean(load_default=False)


class ShipStationSection(_Strict):
    """The optional ShipStation destination (SPEC section 11): V1 key pair, address, tag rules."""

    api_key = fields.String(required=True, validate=validate.Length(min=1))
    api_secret = fields.String(required=True, validate=validate.Length(min=1))
    base_url = _vendor_url()
    # Shopify tag (case-insensitive) -> ShipStation customer tag (rule 48).
    tag_rules = fields.Dict(keys=fields.String(validate=validate.Length(min=1, max=255)),
                            values=fields.String(validate=validate.Length(min=1, max=255)), load_default=dict)


class TenantFileSchema(_Strict):
    name = fields.String(required=True, validate=[SLUG, validate.Length(min=1, max=63)])
    account_name = fields.String(required=True, validate=validate.Length(min=1, max=255))
    shopify = fields.Nested(ShopifySection, required=True)
    pos = fields.Nested(PosSection, required=True, allow_none=True)
    crm = fields.Nested(CrmSection, load_default=None, allow_none=True)
    settings = fields.Nested(SettingsSection, load_default=lambda: SettingsSection().load({}))
    shipstation = fields.Nested(ShipStationSection, load_default=None, allow_none=True)

    @validates_schema
    def _one_destination(self, data: dict[str, Any], **_: Any) -> None:
        if data.get("pos") is None and data.get("crm") is None:
            raise ValidationError("may be null only when crm is given (a tenant has at least one destination)",
                                  "pos")


def _first_error(messages: Any, path: str = "") -> str:
    if isinstance(messages, dict):
        key, value = next(iter(messages.items()))
        if key == "_schema":
            return _first_error(value, path)
        return _first_error(value, f"{path}.{key}" if path else str(key))
    if isinstance(messages, list) and messages:
        first = messages[0]
        if isinstance(first, str):
            text = "unknown key" if first == "Unknown field." else first.rstrip(".")
            return f"{path}: {text}" if path else text
        return _first_error(first, path)
    return f"{path}: {messages}"


def validate_tenant_data(data: Any) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise TenantFileError("the tenant file must hold one object")
    try:
        return TenantFileSchema().load(data)
    except ValidationError as exc:
        raise TenantFileError(_first_error(exc.messages)) from None


def load_tenant_file(path: str | Path) -> dict[str, Any]:
    """Read a JSON or YAML tenant file and validate it."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise TenantFileError(f"cannot read {path}: {exc.strerror}") from None
    try:
        data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise TenantFileError(f"{path} is not valid {'JSON' if path.suffix == '.json' else 'YAML'}: {exc}") from None
    return validate_tenant_data(data)
