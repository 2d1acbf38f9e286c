"""A fake of the Freshsales endpoints possync uses, for tests, benchmarks and `possync demo`.

Never imported by production code. It follows the vendor contract (reference section 5) from its own
reading and imports nothing of the adapter: a wrong constant there is caught by the contract suite.
"""

from __future__ import annotations

from possync.adapters.freshsales.fake.server import FakeFreshsales

__all__ = ["FakeFreshsales"]
