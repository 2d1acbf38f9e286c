"""A customer as a POS holds it: a value shared by the adapters (which read and write it) and the
POS index (which stores it), so it lives with the other value types below both."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

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

    @property
    def age_key(self) -> str:
        """Sorts oldest first: numeric ids by value, others by creation time then id (rule 11)."""
        if self.pos_id.isdigit():
            return self.pos_id.rjust(20, "0")
        stamp = self.created_at.isoformat() if self.created_at else "9999"
        return f"~{stamp}|{self.pos_id}"[:64]
