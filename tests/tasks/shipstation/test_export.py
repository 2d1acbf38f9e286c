"""The ShipStation import file (SPEC rules 47, 48), and the round trip through the fake's CSV import."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from possync.adapters.shipstation.fake import import_customers_csv
from possync.adapters.shipstation.fake.csv_import import TEMPLATE_HEADER, template_bytes
from possync.tasks.shipstation.columns import BUILTIN_HEADER, TemplateError
from possync.tasks.shipstation.operations import export_here, read_here
from tests.tasks.shipstation.conftest import MADRID, Ship

OLD, NEW = "2026-01-02T00:00:00Z", "2030-01-01T00:00:00Z"  # Shopify change times before / after ShipStation's


def _export(ship: Ship, session: Session, key: str, path: Path, template: Path | None = None):  # type: ignore[no-untyped-def]
    read_here(session, ship.name, key)
    summary, _header, missing = export_here(session, ship.name, key, str(path), str(template) if template else None)
    rows = list(csv.DictReader(io.StringIO(path.read_bytes().decode("utf-8-sig"))))
    return summary, rows, missing


def test_a_customer_shipstation_lacks_gets_a_row_keyed_by_its_shopify_id(ship: Ship, session: Session,
                                                                         secret_key: str, tmp_path: Path) -> None:
    sid = ship.shopify_customer("Ana", "ana@example.com", tags=("VIP", "other"), address=MADRID)
    summary, rows, missing = _export(ship, session, secret_key, tmp_path / "out.csv")
    assert (summary.create, summary.update) == (1, 0)
    [row] = rows
    assert list(row) == list(BUILTIN_HEADER)
    assert row["Username"] == sid and row["Email"] == "ana@example.com" and row["Full Name"] == "Ana Ruiz"
    assert (row["Address Line 1"], row["City"], row["State"], row["Postal Code"], row["Country Code"]) == (
        "Calle Mayor 1", "Madrid", "M", "28013", "ES")
    assert row["Tags"] == "VIP"  # rule "vip" matched the Shopify tag "VIP" case-insensitively
    assert missing == ["B2B", "VIP"]  # neither tag exists in the ShipStation account yet


def test_rows_missing_a_required_column_are_left_out_with_the_reason(ship: Ship, session: Session, secret_key: str,
                                                                     tmp_path: Path) -> None:
    sid = ship.shopify_customer("Ana", "ana@example.com")
    summary, rows, _ = _export(ship, session, secret_key, tmp_path / "out.csv")
    assert rows == []
    [left] = summary.left_out
    assert left.shopify_customer_id == sid
    assert left.reason == "missing address line 1, city, state, postal code, country code"


def test_a_store_imported_record_is_never_in_the_file(ship: Ship, session: Session, secret_key: str,
                                                      tmp_path: Path) -> None:
    sid = ship.shopify_customer("Ana", "ana@example.com", tags=("vip",), address=MADRID, updated_at=NEW)
    ship.shipstation.add_customer(name="Old Name", email="ana@example.com", marketplace="Shopify", marketplace_id=7,
                                  username=sid)
    summary, rows, _ = _export(ship, session, secret_key, tmp_path / "out.csv")
    assert rows == [] and summary.store_imported == 1


def test_an_out_of_date_manual_record_keeps_every_known_value(ship: Ship, session: Session, secret_key: str,
                                                              tmp_path: Path) -> None:
    """Shopify changed after ShipStation: its values win; what only ShipStation knows stays filled."""
    ship.shopify_customer("Ana", "ana@example.com", tags=("Wholesale",), phone="+34600111222",
                          address={**MADRID, "address1": "Calle Nueva 2"}, updated_at=NEW)
    ship.shipstation.add_customer(name="Ana Ruiz", email="ana@example.com", company="Ruiz SL", street1="Calle Mayor 1",
                                  street2="3A", city="Madrid", state="M", postal_code="28013", country_code="ES",
                                  phone="600 999 999", tags=["Gold"])
    summary, [row], _ = _export(ship, session, secret_key, tmp_path / "out.csv")
    assert summary.update == 1
    assert row["Username"] == "ana@example.com"  # its manual username: the import updates by it
    assert (row["Address Line 1"], row["Phone"]) == ("Calle Nueva 2", "+34600111222")
    assert (row["Company Name"], row["Address Line 2"]) == ("Ruiz SL", "3A")  # only ShipStation has these
    assert row["Tags"] == "Gold,B2B"


def test_a_newer_shipstation_record_keeps_its_values_and_only_gains_tags(ship: Ship, session: Session,
                                                                         secret_key: str, tmp_path: Path) -> None:
    ship.shopify_customer("Ana", "ana@example.com", tags=("VIP",), address={**MADRID, "address1": "Old 9"},
                          updated_at=OLD)
    ship.shipstation.add_customer(name="Ana Ruiz", email="ana@example.com", street1="Calle Mayor 1", city="Madrid",
                                  state="M", postal_code="28013", country_code="ES")
    summary, [row], _ = _export(ship, session, secret_key, tmp_path / "out.csv")
    assert summary.update == 1 and row["Address Line 1"] == "Calle Mayor 1" and row["Tags"] == "VIP"


def test_an_up_to_date_manual_record_gets_no_row(ship: Ship, session: Session, secret_key: str,
                                                 tmp_path: Path) -> None:
    ship.shopify_customer("Ana", "ANA@example.com", address=MADRID, updated_at=NEW)
    ship.shipstation.add_customer(name="ana ruiz", email="ana@example.com", street1="Calle Mayor 1", city="Madrid",
                                  state="M", postal_code="28013", country_code="ES")
    summary, rows, _ = _export(ship, session, secret_key, tmp_path / "out.csv")
    assert rows == [] and summary.up_to_date == 1


def test_the_template_header_is_copied_byte_for_byte_and_filled_by_name(ship: Ship, session: Session,
                                                                        secret_key: str, tmp_path: Path) -> None:
    template = tmp_path / "CustomerImportSample.csv"
    header = b"\xef\xbb\xbfCountry Code,Username,\"Full Name\",Address Line 1,City,State,Postal Code,Notes\n"
    template.write_bytes(header + b"example,row,that,is,not,copied,x,y\n")
    sid = ship.shopify_customer("Ana", "ana@example.com", address=MADRID)
    out = tmp_path / "out.csv"
    _export(ship, session, secret_key, out, template)
    data = out.read_bytes()
    assert data.startswith(header) and b"example" not in data
    assert data[len(header):].decode() == f"ES,{sid},Ana Ruiz,Calle Mayor 1,Madrid,M,28013,\r\n"


def test_a_template_without_a_required_column_is_refused(ship: Ship, session: Session, secret_key: str,
                                                         tmp_path: Path) -> None:
    template = tmp_path / "t.csv"
    template.write_bytes(b"Username,Full Name,City\r\n")
    read_here(session, ship.name, secret_key)
    with pytest.raises(TemplateError, match="address line 1, state, postal code, country code"):
        export_here(session, ship.name, secret_key, str(tmp_path / "out.csv"), str(template))
    assert not (tmp_path / "out.csv").exists()


def test_round_trip_an_imported_file_leaves_nothing_to_export(ship: Ship, session: Session, secret_key: str,
                                                              tmp_path: Path) -> None:
    """Export -> ShipStation's import with "update existing" -> the next export writes no row for them."""
    template = tmp_path / "CustomerImportSample.csv"
    template.write_bytes(template_bytes())
    new = ship.shopify_customer("Ana", "ana@example.com", tags=("VIP",), address=MADRID, phone="+34600111222")
    ship.shopify_customer("Luis", "luis@example.com", tags=("wholesale",), updated_at=NEW,
                          address={**MADRID, "address1": "Gran Via 5"})
    stale = ship.shipstation.add_customer(name="Luis Ruiz", email="luis@example.com", company="Ruiz SL",
                                          street1="Calle Vieja 1", street2="2B", city="Madrid", state="M",
                                          postal_code="28013", country_code="ES", phone="600 999 999", tags=["Gold"])
    before = dict(ship.shipstation.customers[stale])
    first = tmp_path / "first.csv"
    summary, rows, _ = _export(ship, session, secret_key, first, template)
    assert (summary.create, summary.update) == (1, 1)
    report = import_customers_csv(ship.shipstation, first.read_bytes(), update_existing=True)
    assert report.updated == [stale] and len(report.created) == 1 and not report.skipped
    after = ship.shipstation.customers[stale]
    blanked = [k for k in ("name", "company", "street2", "phone", "email", "city") if before[k] and not after[k]]
    assert blanked == []  # the import blanks empty cells: the file left none for a known value
    assert [t["name"] for t in after["tags"]] == ["Gold", "B2B"] and after["street1"] == "Gran Via 5"
    created = ship.shipstation.customers[report.created[0]]
    assert created["marketplaceUsernames"][0]["username"] == new
    second = tmp_path / "second.csv"
    summary, rows, _ = _export(ship, session, secret_key, second, template)
    assert rows == [] and (summary.create, summary.update, summary.up_to_date) == (0, 0, 2)
    assert second.read_bytes() == template_bytes() and TEMPLATE_HEADER[0] == "Username"


def test_rule_52_a_military_address_is_written_in_its_military_form() -> None:
    from possync.models.customer import Address, Customer
    from possync.models.shopify_values import ShopifyCustomer
    from possync.tasks.shipstation.export import shopify_cells

    address = Address(address1="psc 3  box 1234", city="fpo", province_code="AP", zip="96349")
    cells = shopify_cells(ShopifyCustomer(id="7", customer=Customer(first_name="Bo", billing_address=address)))
    assert (cells["street1"], cells["city"], cells["state"], cells["country_code"]) == (
        "PSC 3 BOX 1234", "FPO", "AP", "US")
