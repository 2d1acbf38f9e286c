"""Which package serves which POS kind; the one place the pipeline turns a tenant into an adapter."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from adapters.base import PosAdapter
from models.tables import PosKind
from models.tenants import TenantContext

PACKAGES = {
    PosKind.LIGHTSPEED_R: "adapters.lightspeed_r",
    PosKind.LIGHTSPEED_X: "adapters.lightspeed_x",
    PosKind.HEARTLAND: "adapters.heartland",
}


def vendor_package(kind: PosKind | str) -> Any:
    return importlib.import_module(PACKAGES[PosKind(kind)])


def make_pos_adapter(
    tenant: TenantContext, save_secrets: Callable[[dict[str, Any]], None] | None = None
) -> PosAdapter:
    """Build the tenant's POS adapter. `save_secrets` stores rotated OAuth tokens (encrypted)."""
    return vendor_package(tenant.pos_kind).make_adapter(
        tenant.pos_config, tenant.pos_secrets, tenant.settings, save_secrets
    )
