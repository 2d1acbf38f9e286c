"""Which package serves which POS kind; the one place the pipeline turns a tenant into an adapter."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from possync.adapters.base import PosAdapter
from possync.models.tables import PosKind
from possync.models.tenants import TenantContext

PACKAGES = {
    PosKind.LIGHTSPEED_R: "possync.adapters.lightspeed_r",
    PosKind.LIGHTSPEED_X: "possync.adapters.lightspeed_x",
    PosKind.HEARTLAND: "possync.adapters.heartland",
}


# Destinations beside the POS (ARCHITECTURE "Destinations"): kind -> package with `make_adapter(config, secrets)`.
CRM_PACKAGES = {"freshsales": "possync.adapters.freshsales"}


def make_crm_adapter(tenant: TenantContext, **client_options: Any) -> Any:
    """Build the tenant's CRM adapter from its `crm` block (secrets decrypted)."""
    if not tenant.crm_kind:
        raise LookupError(f"tenant {tenant.name!r} has no CRM")
    package = importlib.import_module(CRM_PACKAGES[tenant.crm_kind])
    return package.make_adapter(tenant.crm_config, tenant.crm_secrets, **client_options)


def vendor_package(kind: PosKind | str) -> Any:
    return importlib.import_module(PACKAGES[PosKind(kind)])


def make_pos_adapter(
    tenant: TenantContext, save_secrets: Callable[[dict[str, Any]], None] | None = None
) -> PosAdapter:
    """Build the tenant's POS adapter. `save_secrets` stores rotated OAuth tokens (encrypted)."""
    if not tenant.pos_kind:
        raise LookupError(f"tenant {tenant.name!r} has no POS")
    return vendor_package(tenant.pos_kind).make_adapter(
        tenant.pos_config, tenant.pos_secrets, tenant.settings, save_secrets
    )
