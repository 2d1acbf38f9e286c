"""Privacy across destinations (SPEC rules 28, 46, 53): `privacy export` lists a customer's ShipStation
records and the POS customers they link to; a redact erases possync's copies; a shop redact all."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from possync.adapters.base import PosCustomer
from possync.models import links, pos_index
from possync.models.customer import Customer
from possync.models.tables import PosStatus, ShipStationRead, ShipStationRecord
from possync.tasks.privacy import erase_customer, export_customer, redact_shop
from possync.tasks.shipstation.operations import read_here
from tests.tasks.shipstation.conftest import Ship

SHOPIFY_ID = "7208000000042"


def _setup(ship: Ship, session: Session, key: str) -> tuple[int, int, int]:
    links.save_link(session, ship.tenant_id, SHOPIFY_ID, "p-1")
    pos_index.index_customers(session, ship.tenant_id, [PosCustomer("p-1", PosStatus.ACTIVE, Customer(
        email="Ana@Example.com", phone="613-555-0142"))], "US")
    session.commit()
    by_username = ship.shipstation.add_customer(name="Ana", email="ana.shop@example.com", marketplace="Shopify",
                                                marketplace_id=7, username=SHOPIFY_ID)
    by_email = ship.shipstation.add_customer(name="Ana", email="ana@example.com")
    other = ship.shipstation.add_customer(name="Bo", email="bo@example.com")
    read_here(session, ship.name, key)
    return by_username, by_email, other


def test_export_lists_the_customers_shipstation_records_and_their_pos_links(ship: Ship, session: Session,
                                                                           secret_key: str) -> None:
    by_username, by_email, _ = _setup(ship, session, secret_key)
    held = export_customer(session, ship.tenant_id, SHOPIFY_ID)["shipstation"]
    assert [r["customer_id"] for r in held] == [str(by_username), str(by_email)]
    assert held[0]["shopify_customer_id"] == SHOPIFY_ID and held[0]["store_imported"] is True
    assert held[1]["pos_customer_ids"] == ["p-1"] and held[1]["values"]["email"] == "ana@example.com"


def test_redact_erases_them_and_nobody_elses(ship: Ship, session: Session, secret_key: str) -> None:
    _, _, other = _setup(ship, session, secret_key)
    counts = erase_customer(session, ship.tenant_id, SHOPIFY_ID)
    session.commit()
    assert counts["shipstation"] == 2
    left = session.scalars(select(ShipStationRecord.customer_id).where(
        ShipStationRecord.tenant_id == ship.tenant_id)).all()
    assert left == [str(other)]
    assert export_customer(session, ship.tenant_id, SHOPIFY_ID)["shipstation"] == []


def test_a_shop_redact_deletes_every_shipstation_row(ship: Ship, session: Session, secret_key: str) -> None:
    _setup(ship, session, secret_key)
    redact_shop(session, ship.tenant_id)
    session.commit()
    assert session.scalars(select(ShipStationRecord)).all() == []
    assert session.get(ShipStationRead, ship.tenant_id) is None
