"""Freshworks CRM (Freshsales): adapter, client, mapping, error table. The fake is `possync.adapters.freshsales.fake`.

The registry calls `make_adapter(config, secrets)` with the tenant's `crm` block.
"""

from __future__ import annotations

from possync.adapters.freshsales.adapter import FreshsalesAdapter, make_adapter

__all__ = ["FreshsalesAdapter", "make_adapter"]
