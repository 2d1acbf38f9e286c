"""Lightspeed Retail X-Series (formerly Vend): adapter, client, mapping, error table and fake.

`make_adapter(config, secrets, settings, save_secrets)` is what `possync.adapters.registry` calls;
`possync.adapters.lightspeed_x.fake` holds the contract-faithful fake; `CAPABILITIES` says what an
X-Series customer can hold (tags go to `custom_field_4`, see `mapping`). `parse_webhook` reads a
`customer.update` delivery.
"""

from __future__ import annotations

from possync.adapters.lightspeed_x.adapter import CAPABILITIES, LightspeedXAdapter, make_adapter
from possync.adapters.lightspeed_x.client import LightspeedXClient, parse_rate_limit_headers
from possync.adapters.lightspeed_x.webhook import WebhookPayloadError, parse_webhook

__all__ = [
    "CAPABILITIES",
    "LightspeedXAdapter",
    "LightspeedXClient",
    "WebhookPayloadError",
    "make_adapter",
    "parse_rate_limit_headers",
    "parse_webhook",
]
