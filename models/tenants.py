"""Tenants in the database: applying a tenant file, loading a tenant with its decrypted secrets."""

from __future__ import annotations

import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.orm import Session

from possync.models import webhook_tokens
from possync.models.crypto import decrypt_json, encrypt_json, mask
from possync.models.tables import PosKind, Tenant

SHOPIFY_SECRET_KEYS = ("access_token", "client_secret", "previous_client_secret")
POS_SECRET_KEYS = ("access_token", "refresh_token", "client_id", "client_secret")
SHIPSTATION_SECRET_KEYS = ("api_key", "api_secret")
CRM_SECRET_KEYS = ("api_key",)


DEFAULT_POLL_INTERVAL_SECONDS = 60  # the tenant file's `settings.poll_interval_seconds` when absent


@dataclass(frozen=True)
class TenantSettings:
    customer_matching: tuple[str, ...] = ("email", "phone")
    update_names: bool = True
    default_customer_id: str | None = None
    sync_pos_to_shopify: bool = True
    poll_interval_seconds: int = DEFAULT_POLL_INTERVAL_SECONDS
    default_phone_region: str = "US"
    heartland_custom_fields: dict[str, str] = field(default_factory=dict)
    dedicated_queue: bool = False
    conflicting_match: str = "new"  # rule 10: what a phone match whose email differs does

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TenantSettings:
        data = dict(data)
        order = data.pop("customer_matching", "email,phone")
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(customer_matching=tuple(order.split(",")), **known)


@dataclass(frozen=True)
class TenantContext:
    """Everything a step needs to know about a tenant, secrets decrypted (never logged)."""

    id: int
    name: str
    account_name: str
    shop_domain: str
    pos_kind: PosKind  # typed as always present for the POS steps; None on a CRM-only tenant (`has_pos`)
    shopify_config: dict[str, Any]
    pos_config: dict[str, Any]
    settings: TenantSettings
    shopify_secrets: dict[str, Any]
    pos_secrets: dict[str, Any]
    crm_kind: str | None = None
    crm_config: dict[str, Any] = field(default_factory=dict)
    crm_secrets: dict[str, Any] = field(default_factory=dict)

    @property
    def has_pos(self) -> bool:
        return self.pos_kind is not None


def tenant_queue(name: str) -> str:
    """The queue of a `dedicated_queue` tenant (`possync worker --tenant NAME` consumes it)."""
    return f"tenant.{name}"


def step_queue(name: str, pos_kind: PosKind | str, settings: TenantSettings) -> str:
    """The queue of a tenant's sync steps: its own when dedicated, else its POS kind's."""
    return tenant_queue(name) if settings.dedicated_queue else PosKind(pos_kind).queue


def _split(section: dict[str, Any], secret_keys: tuple[str, ...]) -> tuple[dict[str, Any], dict[str, Any]]:
    config = {k: v for k, v in section.items() if k not in secret_keys}
    secrets = {k: v for k, v in section.items() if k in secret_keys}
    return config, secrets


# Called with a shop domain once an applied tenant is committed: caches of this process drop what they held.
_applied_listeners: weakref.WeakSet[Callable[[str], None]] = weakref.WeakSet()


def on_tenant_applied(listener: Callable[[str], None]) -> None:
    """Call `listener(shop_domain)` after each commit that applied a tenant in this process (held weakly)."""
    _applied_listeners.add(listener)


def _announce_after_commit(session: Session, shop_domain: str) -> None:
    def announce(_: Session) -> None:
        for listener in list(_applied_listeners):
            listener(shop_domain)

    event.listen(session, "after_commit", announce, once=True)


def apply_tenant(session: Session, data: dict[str, Any], key: str) -> tuple[Tenant, bool]:
    """Create or update a tenant from validated tenant-file data. Returns (tenant, changed)."""
    shopify_config, shopify_secrets = _split(data["shopify"], SHOPIFY_SECRET_KEYS)
    pos_config, pos_secrets = _split(data["pos"] or {}, POS_SECRET_KEYS)
    crm_config, crm_secrets = _split(data.get("crm") or {}, CRM_SECRET_KEYS)
    tenant = session.scalar(select(Tenant).where(Tenant.name == data["name"]))
    values = {
        "account_name": data["account_name"],
        "shop_domain": shopify_config.pop("shop_domain").lower(),
        "pos_kind": pos_config.pop("kind", None),
        "shopify_config": shopify_config,
        "pos_config": pos_config,
        "crm_kind": crm_config.pop("kind", None),
        "crm_config": crm_config or None,
        "settings": data["settings"],
    }
    secrets = {"shopify_secrets": shopify_secrets, "pos_secrets": pos_secrets,
               "crm_secrets": crm_secrets if values["crm_kind"] else None}
    if tenant is None:
        tenant = Tenant(name=data["name"], **values)
        for attr, clear in secrets.items():
            setattr(tenant, attr, None if clear is None else encrypt_json(clear, key))
        _apply_shipstation(tenant, data.get("shipstation"), key)
        if webhook_tokens.wants_token(tenant):
            webhook_tokens.issue(tenant, key)
        session.add(tenant)
        session.flush()
        _announce_after_commit(session, tenant.shop_domain)
        return tenant, True
    changed = False
    for attr, value in values.items():
        if getattr(tenant, attr) != value:
            setattr(tenant, attr, value)
            changed = True
    # Re-encrypt only when the clear secrets differ, so applying the same file twice writes nothing.
    for attr, clear in secrets.items():
        stored = getattr(tenant, attr)
        if (None if stored is None else decrypt_json(stored, key)) != clear:
            setattr(tenant, attr, None if clear is None else encrypt_json(clear, key))
            changed = True
    changed = _apply_shipstation(tenant, data.get("shipstation"), key) or changed
    if webhook_tokens.wants_token(tenant) and tenant.webhook_token is None:
        webhook_tokens.issue(tenant, key)  # a tenant that became an X-Series one
    session.flush()
    if changed:
        _announce_after_commit(session, tenant.shop_domain)
    return tenant, changed


def _apply_shipstation(tenant: Tenant, section: dict[str, Any] | None, key: str) -> bool:
    """The optional `shipstation` block: settings in clear, the key pair encrypted; null removes it."""
    if section is None:
        changed = tenant.shipstation_config is not None or tenant.shipstation_secrets is not None
        tenant.shipstation_config, tenant.shipstation_secrets = None, None
        return changed
    config, secrets = _split(section, SHIPSTATION_SECRET_KEYS)
    changed = tenant.shipstation_config != config
    if changed:
        tenant.shipstation_config = config
    if tenant.shipstation_secrets is None or decrypt_json(tenant.shipstation_secrets, key) != secrets:
        tenant.shipstation_secrets = encrypt_json(secrets, key)
        changed = True
    return changed


def shipstation_of(tenant: Tenant, key: str) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """(config, decrypted key pair) of the tenant's ShipStation block; None when it has none."""
    if tenant.shipstation_config is None or tenant.shipstation_secrets is None:
        return None
    return dict(tenant.shipstation_config), decrypt_json(tenant.shipstation_secrets, key)


def load_context(tenant: Tenant, key: str) -> TenantContext:
    return TenantContext(
        id=tenant.id,
        name=tenant.name,
        account_name=tenant.account_name,
        shop_domain=tenant.shop_domain,
        pos_kind=PosKind(tenant.pos_kind) if tenant.pos_kind else None,  # type: ignore[arg-type]
        shopify_config=dict(tenant.shopify_config),
        pos_config=dict(tenant.pos_config),
        settings=TenantSettings.from_json(tenant.settings),
        shopify_secrets=decrypt_json(tenant.shopify_secrets, key),
        pos_secrets=decrypt_json(tenant.pos_secrets, key),
        crm_kind=tenant.crm_kind,
        crm_config=dict(tenant.crm_config or {}),
        crm_secrets=decrypt_json(tenant.crm_secrets, key) if tenant.crm_secrets else {},
    )


class ContextCache:
    """This process's decrypted tenant contexts, reused while the tenant's row is unchanged.

    Loading and decrypting the tenant for every sync was a tenth of a worker's CPU. Every change to a
    tenant row (`tenant apply`, rotated POS tokens) moves its `updated_at`, which the caller reads with
    the job in one query, so a context is never used once its row has changed. Keyed by engine too:
    tests and the demo use several databases in one process.
    """

    def __init__(self) -> None:
        self._held: dict[tuple[object, int, str], tuple[datetime, TenantContext]] = {}

    def get(self, session: Session, tenant_id: int, version: datetime | None, key: str) -> TenantContext:
        slot = (session.get_bind(), tenant_id, key)
        held = self._held.get(slot)
        if held is not None and held[0] == version:
            return held[1]
        tenant = session.get_one(Tenant, tenant_id)
        context = load_context(tenant, key)
        self._held[slot] = (tenant.updated_at, context)
        return context


def get_tenant(session: Session, name: str) -> Tenant | None:
    return session.scalar(select(Tenant).where(Tenant.name == name))


def require_tenant(session: Session, name: str) -> Tenant:
    """The named tenant for a command; `LookupError` (a one-line CLI error) when there is none."""
    tenant = get_tenant(session, name)
    if tenant is None:
        raise LookupError(f"no tenant named {name!r}")
    return tenant


def context_by_name(session: Session, name: str, key: str) -> TenantContext:
    """The named tenant, decrypted, for a command."""
    return load_context(require_tenant(session, name), key)


def get_tenant_by_shop(session: Session, shop_domain: str) -> Tenant | None:
    return session.scalar(select(Tenant).where(Tenant.shop_domain == shop_domain.strip().lower()))


def save_pos_secrets(session: Session, tenant_id: int, secrets: dict[str, Any], key: str) -> None:
    """Store rotated OAuth tokens (encrypted); the caller commits before the new token is used."""
    tenant = session.get(Tenant, tenant_id)
    if tenant is None:
        raise LookupError(f"tenant {tenant_id} no longer exists")
    tenant.pos_secrets = encrypt_json(secrets, key)


def describe(tenant: Tenant, key: str) -> dict[str, Any]:
    """The tenant as `tenant show` prints it: the file's shape, every secret masked."""
    shopify = {"shop_domain": tenant.shop_domain, **tenant.shopify_config}
    shopify |= {k: mask(v) for k, v in decrypt_json(tenant.shopify_secrets, key).items()}
    pos: dict[str, Any] | None = None
    if tenant.pos_kind:
        pos = {"kind": tenant.pos_kind, **tenant.pos_config}
        pos |= {k: mask(v) for k, v in decrypt_json(tenant.pos_secrets, key).items()}
    described = {"name": tenant.name, "account_name": tenant.account_name, "shopify": shopify, "pos": pos,
                 "settings": tenant.settings}
    if tenant.crm_kind:
        crm = {"kind": tenant.crm_kind, **(tenant.crm_config or {})}
        described["crm"] = crm | {k: mask(v) for k, v in decrypt_json(tenant.crm_secrets or "", key).items()}
    block = shipstation_of(tenant, key)
    if block is not None:
        described["shipstation"] = {**block[0], **{k: mask(v) for k, v in block[1].items()}}
    if tenant.webhook_token:
        described["webhook_url_path"] = webhook_tokens.url_path(
            tenant.name, mask(webhook_tokens.reveal(tenant.webhook_token, key)) or "")
    return described
