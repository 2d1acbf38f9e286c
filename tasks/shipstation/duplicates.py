"""The merge plan (SPEC rule 49): ShipStation records at one postal address with different emails.

Grouped by the normalised address (`possync.tasks.shipstation.records.address_key`); in each group the survivor is
the record linked to Shopify (the most recently modified, if several), else the most recently modified
record; the others are to be absorbed in ShipStation's Combine screen.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from possync.models.tables import ShipStationRecord


@dataclass(frozen=True)
class Group:
    address: str
    survivor: str
    absorb: list[str]
    emails: list[str]

    def to_json(self) -> dict[str, Any]:
        return {"address": self.address, "survivor": self.survivor, "absorb": self.absorb, "emails": self.emails}


def _rank(record: ShipStationRecord) -> tuple[bool, datetime | str, int]:
    stamp: datetime | str = record.modify_date or ""
    return (record.shopify_customer_id is not None, stamp, int(record.customer_id))


def _shown(record: ShipStationRecord) -> str:
    v = record.record.get("values", {})
    line = " ".join(p for p in (v.get("state"), v.get("postalCode")) if p)
    return ", ".join(p for p in (v.get("street1"), v.get("street2"), v.get("city"), line, v.get("countryCode")) if p)


def merge_plan(session: Session, tenant_id: int) -> Iterator[Group]:
    """Groups in address order; one query for the addresses, one per group for its records."""
    addresses = session.scalars(
        select(ShipStationRecord.address_key)
        .where(ShipStationRecord.tenant_id == tenant_id, ShipStationRecord.address_key.is_not(None),
               ShipStationRecord.email_key.is_not(None))
        .group_by(ShipStationRecord.address_key)
        .having(func.count(func.distinct(ShipStationRecord.email_key)) > 1)
        .order_by(ShipStationRecord.address_key)).all()
    for key in addresses:
        records = list(session.scalars(select(ShipStationRecord).where(
            ShipStationRecord.tenant_id == tenant_id, ShipStationRecord.address_key == key)))
        records.sort(key=_rank, reverse=True)
        survivor = records[0]
        emails = sorted({r.record.get("values", {}).get("email") or "" for r in records} - {""}, key=str.casefold)
        yield Group(_shown(survivor), survivor.customer_id, [r.customer_id for r in records[1:]], emails)
