"""A customer as a POS holds it: a value shared by the adapters (which read and write it) and the
POS index (which stores it), so it lives with the other value types below both."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from possync.models.customer import Customer
from possync.models.tables import PosStatus


@dataclass(frozen=True)
class PosCustomer:
    """A customer as read from (or just written to) a POS."""

    pos_id: str
    status: PosStatus
    customer: Customer
    created_at: datetime | None = None
    updated_at: datetime | None = None
    # The vendor's own parts of this reading an update must resend (JSON-able, e.g. R-Series contact
    # ids): lets a write reuse the reading instead of reading the record again. None: not kept.
    vendor_state: Mapping[str, Any] | None = field(default=None, compare=False, repr=False)

    @property
    def age_key(self) -> str:
        """Sorts oldest first: numeric ids by value, others by creation time then id (rule 11)."""
        if self.pos_id.isdigit():
            return self.pos_id.rjust(20, "0")
        stamp = self.created_at.isoformat() if self.created_at else "9999"
        return f"~{stamp}|{self.pos_id}"[:64]
