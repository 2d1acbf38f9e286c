"""Lightspeed Retail R-Series (Retail API V3): adapter, client, mapping, error table and fake.

`adapters.registry` builds the adapter with `make_adapter(config, secrets, settings, save_secrets)`;
tests, benchmarks and `possync demo` serve `FakeServer` (also `python -m adapters.lightspeed_r`).
"""

from __future__ import annotations

from adapters.lightspeed_r.adapter import CAPABILITIES, LightspeedRAdapter, make_adapter
from adapters.lightspeed_r.client import LightspeedRClient
from adapters.lightspeed_r.fake import FakeServer

__all__ = ["CAPABILITIES", "FakeServer", "LightspeedRAdapter", "LightspeedRClient", "make_adapter"]
