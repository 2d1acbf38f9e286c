"""The ShipStation customer import file (SPEC rules 47, 48): rows for what ShipStation lacks or holds
out of date, streamed one Shopify page at a time.

Per Shopify customer, its ShipStation record is the one whose username is its id, else one with its
email. None: a new row (username = the Shopify id). A store's record: nothing, ever (the import cannot
update it). A manual record: every column from its current ShipStation value, except where possync has
a newer one (Shopify changed after ShipStation's modify date) or ShipStation has none, since "update
the existing record" blanks every empty cell; tags gain the tenant's rule tags. A row equal to the
record is not written: after an import the next export writes nothing for those customers.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import Row as StoredRow
from sqlalchemy.orm import Session

from possync.models import military
from possync.models.normalise import email_key, phone_key
from possync.models.shopify_values import ShopifyCustomer
from possync.models.tables import ShipStationRecord
from possync.tasks.shipstation import records as shipstation
from possync.tasks.shipstation import tags as tag_rules
from possync.tasks.shipstation.columns import ONE_NAME, RECORD_FIELDS, REQUIRED, TAG_SEPARATOR, Header

Action = Literal["create", "update"]
Held = ShipStationRecord | StoredRow[Any]  # a record as stored: an ORM object or a plain row of its columns


@dataclass(frozen=True)
class Row:
    shopify_customer_id: str
    action: Action
    cells: dict[str, str]


@dataclass(frozen=True)
class LeftOut:
    shopify_customer_id: str
    reason: str


@dataclass
class Summary:
    create: int = 0
    update: int = 0
    up_to_date: int = 0
    store_imported: int = 0
    left_out: list[LeftOut] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"rows": {"create": self.create, "update": self.update}, "up_to_date": self.up_to_date,
                "store_imported": self.store_imported,
                "left_out": [{"shopify_customer_id": x.shopify_customer_id, "reason": x.reason} for x in self.left_out]}


def shopify_cells(customer: ShopifyCustomer) -> dict[str, str]:
    c = customer.customer
    a = military.normalise(c.billing_address)  # rule 52: the military form, as every destination
    names = [n for n in (c.first_name, c.last_name) if n]
    return _clean({"username": customer.id, "email": c.email, "full_name": " ".join(names),
                   "first_name": c.first_name, "last_name": c.last_name, "company": a.company if a else None,
                   "phone": c.phone, "street1": a.address1 if a else None, "street2": a.address2 if a else None,
                   "city": a.city if a else None, "state": a.province_code if a else None,
                   "postal_code": a.zip if a else None, "country_code": a.country_code if a else None})


def record_cells(record: Held) -> dict[str, str]:
    v = record.record.get("values", {})
    return _clean({"username": record.manual_username, "email": v.get("email"), "full_name": v.get("name"),
                   "company": v.get("company"), "phone": v.get("phone"), "street1": v.get("street1"),
                   "street2": v.get("street2"), "city": v.get("city"), "state": v.get("state"),
                   "postal_code": v.get("postalCode"), "country_code": v.get("countryCode"),
                   "tags": TAG_SEPARATOR.join(record.record.get("tags", []))})


def _clean(values: Mapping[str, str | None]) -> dict[str, str]:
    return {k: " ".join(str(v).split()) for k, v in values.items() if v is not None and str(v).strip()}


def _same(name: str, a: str | None, b: str | None, region: str) -> bool:
    if name == "email":
        return email_key(a) == email_key(b)
    if name == "phone":
        return phone_key(a, region) == phone_key(b, region)
    if name == "tags":
        return tag_rules.same(_split(a), _split(b))
    return (a or "").casefold() == (b or "").casefold()


def _split(cell: str | None) -> list[str]:
    return [t.strip() for t in (cell or "").split(TAG_SEPARATOR) if t.strip()]


def _newer(customer: ShopifyCustomer, modified: datetime | None) -> bool:
    if customer.updated_at is None:
        return False
    return modified is None or customer.updated_at > modified


class PageRecords:
    """A Shopify page's ShipStation records, by the usernames and email keys they are found by."""

    def __init__(self, records: Iterable[Held]) -> None:
        self.by_id: dict[str, list[Held]] = {}
        self.by_email: dict[str, list[Held]] = {}
        for record in records:
            for username in {record.shopify_customer_id, record.manual_username} - {None}:
                self.by_id.setdefault(str(username), []).append(record)
            if record.email_key:
                self.by_email.setdefault(record.email_key, []).append(record)

    def choose(self, customer: ShopifyCustomer) -> Held | None:
        """Its own record (username = its id) first, then one with its email: a manual one before a store's."""
        mine = self.by_id.get(customer.id) or self.by_email.get(email_key(customer.customer.email) or "", [])
        return min(mine, key=lambda r: (r.store_imported, r.customer_id)) if mine else None


def decide(customer: ShopifyCustomer, record: Held | None, rules: Mapping[str, str],
           region: str) -> Row | LeftOut | Literal["store_imported", "up_to_date"]:
    wanted_tags = tag_rules.shipstation_tags(customer.customer.tags, rules)
    theirs = shopify_cells(customer)
    if record is None:
        cells = {**theirs, **({"tags": TAG_SEPARATOR.join(wanted_tags)} if wanted_tags else {})}
        return _checked(Row(customer.id, "create", cells))
    if record.store_imported:
        return "store_imported"
    current = record_cells(record)
    cells = dict(current)
    newer = _newer(customer, record.modify_date)
    for name in RECORD_FIELDS:
        if name in ("username", "tags") or name not in theirs:
            continue
        if name not in cells or (newer and not _same(name, theirs[name], cells[name], region)):
            cells[name] = theirs[name]
    if cells.get("full_name") == theirs.get("full_name") and cells.get("full_name") != current.get("full_name"):
        cells.update({k: theirs[k] for k in ("first_name", "last_name") if k in theirs})
    merged = tag_rules.merge(_split(current.get("tags")), wanted_tags)
    if merged:
        cells["tags"] = TAG_SEPARATOR.join(merged)
    if all(_same(n, cells.get(n), current.get(n), region) for n in RECORD_FIELDS):
        return "up_to_date"
    return _checked(Row(customer.id, "update", cells))


def _checked(row: Row) -> Row | LeftOut:
    missing = [label for key, label in REQUIRED if not row.cells.get(key)]
    if not any(row.cells.get(k) for k in ONE_NAME):
        missing.append("a name (full, first, last or company)")
    if missing:
        return LeftOut(row.shopify_customer_id, f"missing {', '.join(missing)}")
    return row


def rows(session: Session, tenant_id: int, pages: Iterable[list[ShopifyCustomer]], rules: Mapping[str, str],
         region: str, summary: Summary) -> Iterator[Row]:
    """The file's rows, a Shopify page at a time (one query per page for its ShipStation records)."""
    for page in pages:
        records = PageRecords(shipstation.for_shopify_customers(session, tenant_id, [c.id for c in page],
                                                                [email_key(c.customer.email) or "" for c in page]))
        for customer in page:
            outcome = decide(customer, records.choose(customer), rules, region)
            if isinstance(outcome, Row):
                setattr(summary, outcome.action, getattr(summary, outcome.action) + 1)
                yield outcome
            elif isinstance(outcome, LeftOut):
                summary.left_out.append(outcome)
            else:
                setattr(summary, outcome, getattr(summary, outcome) + 1)
        session.rollback()  # read only: end the page's transaction


def write(out: Any, header: Header, rows_in: Iterable[Row]) -> None:
    """The header's bytes as they are, then each row in the header's column order (CRLF, UTF-8)."""
    out.write(header.raw)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    for row in rows_in:
        writer.writerow([row.cells.get(f, "") if f else "" for f in header.fields])
        out.write(buffer.getvalue().encode("utf-8"))
        buffer.seek(0)
        buffer.truncate()
