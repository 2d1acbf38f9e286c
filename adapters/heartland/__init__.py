"""Heartland Retail (formerly Springboard Retail): adapter, client, mapping, error table and fake.

The registry calls `make_adapter(config, secrets, settings, save_secrets)`; tests and `possync demo`
serve the fake in `possync.adapters.heartland.fake` (never imported by production code). `CAPABILITIES` is
what a tenant without custom-field mappings can hold; an adapter's own `capabilities` add SMS consent
and the tags field when `heartland_custom_fields` maps them.
"""

from __future__ import annotations

from possync.adapters.heartland.adapter import HeartlandAdapter, make_adapter
from possync.adapters.heartland.client import HeartlandClient
from possync.adapters.heartland.mapping import CAPABILITIES, CustomFields

__all__ = ["CAPABILITIES", "CustomFields", "HeartlandAdapter", "HeartlandClient", "make_adapter"]
