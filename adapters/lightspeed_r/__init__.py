"""Lightspeed Retail R-Series (Retail API V3): adapter, client, mapping, error table and fake.

`possync.adapters.registry` builds the adapter with `make_adapter(config, secrets, settings, save_secrets)`;
tests, benchmarks and `possync demo` serve `possync.adapters.lightspeed_r.fake.FakeServer`
(also `python -m possync.adapters.lightspeed_r.fake`).
"""

from __future__ import annotations

from possync.adapters.lightspeed_r.adapter import CAPABILITIES, LightspeedRAdapter, make_adapter
from possync.adapters.lightspeed_r.client import LightspeedRClient

__all__ = ["CAPABILITIES", "LightspeedRAdapter", "LightspeedRClient", "make_adapter"]
