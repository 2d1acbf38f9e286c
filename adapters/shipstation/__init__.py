"""ShipStation (V1 API): a read-only destination. Its API reads customers and tags; creating, tagging
and merging customers go through its CSV import and web app, which possync prepares (SPEC section 11).

The fake lives in `possync.adapters.shipstation.fake` and is not imported here (production never uses it).
"""

from __future__ import annotations

from possync.adapters.shipstation.client import ShipStationClient, base_url_for, parse_rate_limit_headers
from possync.adapters.shipstation.mapping import ShipStationCustomer, customer_from_json

__all__ = ["ShipStationClient", "ShipStationCustomer", "base_url_for", "customer_from_json",
           "parse_rate_limit_headers"]
