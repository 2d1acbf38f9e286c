"""The fake's model of the customer CSV import (reference §6.3): what the round trip is tested against."""

from __future__ import annotations

import csv
import io

import pytest

from possync.adapters.shipstation.fake import FakeShipStation, import_customers_csv
from possync.adapters.shipstation.fake.csv_import import TEMPLATE_HEADER, template_bytes


def _file(*rows: dict[str, str]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(TEMPLATE_HEADER)
    writer.writerows([row.get(name, "") for name in TEMPLATE_HEADER] for row in rows)
    return out.getvalue().encode()


FULL = {"Username": "ana@example.com", "Full Name": "Ana Ruiz", "Address Line 1": "Calle Mayor 1", "City": "Madrid",
        "State": "M", "Postal Code": "28013", "Country Code": "ES"}


def test_update_existing_blanks_every_empty_cell() -> None:
    fake = FakeShipStation()
    cid = fake.add_customer(name="Ana Ruiz", email="ana@example.com", phone="600 000 000", street1="Calle Mayor 1",
                            city="Madrid", state="M", postal_code="28013", country_code="ES", tags=["VIP"])
    report = import_customers_csv(fake, _file(FULL))
    assert report.updated == [cid]
    record = fake.customers[cid]
    assert record["phone"] is None and record["email"] is None and record["tags"] == []


def test_ignore_mode_leaves_an_existing_record_alone() -> None:
    fake = FakeShipStation()
    cid = fake.add_customer(name="Ana", email="ana@example.com", phone="600")
    report = import_customers_csv(fake, _file(FULL), update_existing=False)
    assert report.ignored == ["ana@example.com"] and fake.customers[cid]["phone"] == "600"


def test_a_store_imported_record_is_not_updatable() -> None:
    fake = FakeShipStation()
    cid = fake.add_customer(name="Ana", email="a@example.com", marketplace="Shopify", marketplace_id=7,
                            username="7208000000001", phone="600")
    report = import_customers_csv(fake, _file({**FULL, "Username": "7208000000001"}))
    assert report.not_updatable == ["7208000000001"] and fake.customers[cid]["phone"] == "600"
    assert len(fake.customers) == 1


def test_new_usernames_become_manual_records_and_rows_missing_a_required_column_are_skipped() -> None:
    fake = FakeShipStation()
    report = import_customers_csv(fake, _file({**FULL, "Tags": "VIP,Wholesale"}, {**FULL, "Username": "b", "City": ""}))
    [cid] = report.created
    assert report.skipped == ["b"]
    record = fake.customers[cid]
    assert record["marketplaceUsernames"][0]["marketplaceId"] == 0
    assert [t["name"] for t in record["tags"]] == ["VIP", "Wholesale"]


def test_a_changed_header_fails_the_whole_file() -> None:
    fake = FakeShipStation()
    with pytest.raises(ValueError, match="header"):
        import_customers_csv(fake, b"Email,Username\r\nx,y\r\n")
    assert template_bytes().startswith(b"Username,")
