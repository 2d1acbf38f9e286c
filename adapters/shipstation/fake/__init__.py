"""A contract-faithful fake of ShipStation's V1 customer API and of its customer CSV import.

For tests, benchmarks and demos only: production code never imports it. It follows the reference
(§6) on its own and shares no constant or mapping with `possync.adapters.shipstation`.
"""

from __future__ import annotations

from possync.adapters.shipstation.fake.csv_import import ImportReport, import_customers_csv
from possync.adapters.shipstation.fake.server import FakeShipStation

__all__ = ["FakeShipStation", "ImportReport", "import_customers_csv"]
