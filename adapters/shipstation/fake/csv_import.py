"""The fake's model of ShipStation's customer CSV import (reference §6.3, seed 003).

- the header must be the template's, text and order, or the whole file fails;
- each row needs Username, Address Line 1, City, State, Postal Code, Country Code and one of Full
  Name, First Name, Last Name, Company Name, or it is skipped;
- a Username that a manual-marketplace record already holds: "update existing" overwrites every
  column of that record, a blank cell blanking the value; "ignore" leaves it alone;
- a Username only a store's record holds: that record cannot be updated by CSV and stays as it was;
- any other Username: a new record of the manual marketplace.
The template's column order here is this model's guess of the real one (UNVERIFIED in the reference).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from typing import Any

from possync.adapters.shipstation.fake.server import MANUAL_ID, FakeShipStation

TEMPLATE_HEADER = ["Username", "Email", "Company Name", "Full Name", "First Name", "Last Name", "Phone",
                   "Address Line 1", "Address Line 2", "Address Line 3", "City", "State", "Postal Code",
                   "Country Code", "Tags"]
REQUIRED = ["Username", "Address Line 1", "City", "State", "Postal Code", "Country Code"]
ONE_OF = ["Full Name", "First Name", "Last Name", "Company Name"]
COLUMN_FIELD = {"Email": "email", "Company Name": "company", "Phone": "phone", "Address Line 1": "street1",
                "Address Line 2": "street2", "City": "city", "State": "state", "Postal Code": "postalCode",
                "Country Code": "countryCode"}
TAG_SEPARATOR = ","


def template_bytes() -> bytes:
    """What "Download a sample CSV file" gives: the header row, CRLF line ends."""
    return (",".join(TEMPLATE_HEADER) + "\r\n").encode()


@dataclass
class ImportReport:
    created: list[int] = field(default_factory=list)
    updated: list[int] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    not_updatable: list[str] = field(default_factory=list)  # usernames of store-imported records
    skipped: list[str] = field(default_factory=list)  # rows missing a required column


def import_customers_csv(fake: FakeShipStation, data: bytes, *, update_existing: bool = True) -> ImportReport:
    text = data.decode("utf-8-sig")
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader, None)
    if header != TEMPLATE_HEADER:
        raise ValueError("the header row is not the template's: do not change header text or column order")
    report = ImportReport()
    for cells in reader:
        row = {name: (cells[i].strip() if i < len(cells) else "") for i, name in enumerate(TEMPLATE_HEADER)}
        if any(not row[name] for name in REQUIRED) or not any(row[name] for name in ONE_OF):
            report.skipped.append(row["Username"])
            continue
        _apply(fake, row, update_existing, report)
    return report


def _apply(fake: FakeShipStation, row: dict[str, str], update_existing: bool, report: ImportReport) -> None:
    username = row["Username"]
    with fake.lock:
        manual = _holder(fake, username, manual=True)
        if manual is not None:
            if not update_existing:
                report.ignored.append(username)
                return
            _overwrite(fake, manual, row)
            report.updated.append(manual["customerId"])
            return
        if _holder(fake, username, manual=False) is not None:
            report.not_updatable.append(username)
            return
        name = row["Full Name"] or " ".join(p for p in (row["First Name"], row["Last Name"]) if p) or None
        columns: dict[str, Any] = {_arg(f): row[c] or None for c, f in COLUMN_FIELD.items()}
        customer_id = fake.add_customer(name=name, username=username, tags=_tags(row["Tags"]), **columns)
        report.created.append(customer_id)


def _holder(fake: FakeShipStation, username: str, *, manual: bool) -> dict[str, Any] | None:
    for record in fake.customers.values():
        for entry in record["marketplaceUsernames"]:
            if entry["username"] == username and (entry["marketplaceId"] == MANUAL_ID) == manual:
                return record
    return None


def _overwrite(fake: FakeShipStation, record: dict[str, Any], row: dict[str, str]) -> None:
    """"Update the existing record": every column, blanks included, replaces what the record held."""
    values: dict[str, Any] = {f: row[c] or None for c, f in COLUMN_FIELD.items()}
    values["name"] = row["Full Name"] or " ".join(p for p in (row["First Name"], row["Last Name"]) if p) or None
    values["tags"] = [{"tagId": fake.tag_id(t), "name": t} for t in _tags(row["Tags"])]
    fake.set_fields(record["customerId"], **values)


def _tags(cell: str) -> list[str]:
    return [t.strip() for t in cell.split(TAG_SEPARATOR) if t.strip()]


def _arg(vendor_field: str) -> str:
    return {"postalCode": "postal_code", "countryCode": "country_code"}.get(vendor_field, vendor_field)
