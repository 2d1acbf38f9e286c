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

    def to_json(self) -> dict[str, Any]:
        """A JSON-able form, `vendor_state` included (kept readings, the index's whole records)."""
        return {"pos_id": self.pos_id, "status": PosStatus(self.status).value, "customer": self.customer.to_json(),
                "created_at": _stamp(self.created_at), "updated_at": _stamp(self.updated_at),
                "vendor_state": self.vendor_state}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PosCustomer:
        return cls(pos_id=str(data["pos_id"]), status=PosStatus(data["status"]),
                   customer=Customer.from_json(data["customer"]),
                   created_at=datetime.fromisoformat(data["created_at"]) if data.get("created_at") else None,
                   updated_at=datetime.fromisoformat(data["updated_at"]) if data.get("updated_at") else None,
                   vendor_state=data.get("vendor_state"))


def _stamp(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None
