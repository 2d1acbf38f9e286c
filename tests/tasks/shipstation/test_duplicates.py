"""The merge plan (SPEC rule 49): one postal address, several emails -> a survivor and records to absorb."""

from __future__ import annotations

from sqlalchemy.orm import Session

from possync.tasks.shipstation.operations import duplicates_here, read_here
from tests.tasks.shipstation.conftest import Ship

HOME = {"street1": "Calle Mayor 1", "city": "Madrid", "state": "M", "postal_code": "28013", "country_code": "ES"}


def test_same_address_different_emails_survivor_is_the_shopify_linked_one(ship: Ship, session: Session,
                                                                          secret_key: str) -> None:
    linked = ship.shipstation.add_customer(name="Ana", email="ana@example.com", marketplace="Shopify",
                                           marketplace_id=7, username="7208000000001", **HOME)
    other = ship.shipstation.add_customer(name="Ana R", email="ana.work@example.com",
                                          **{**HOME, "street1": "calle  MAYOR, 1", "postal_code": "28 013"})
    ship.shipstation.add_customer(name="Elsewhere", email="x@example.com", **{**HOME, "street1": "Otra 2"})
    ship.shipstation.add_customer(name="Same email", email="ana@example.com", **{**HOME, "street1": "Otra 3"})
    read_here(session, ship.name, secret_key)
    [group] = duplicates_here(session, ship.name, secret_key)
    assert group.survivor == str(linked) and group.absorb == [str(other)]
    assert group.emails == ["ana.work@example.com", "ana@example.com"]
    assert group.address == "Calle Mayor 1, Madrid, M 28013, ES"


def test_without_a_shopify_link_the_most_recently_modified_survives(ship: Ship, session: Session,
                                                                    secret_key: str) -> None:
    first = ship.shipstation.add_customer(name="A", email="a@example.com", **HOME)
    second = ship.shipstation.add_customer(name="B", email="b@example.com", **HOME)
    third = ship.shipstation.add_customer(name="C", email="c@example.com", **HOME)
    ship.shipstation.set_fields(first, phone="600")  # now the most recently modified
    read_here(session, ship.name, secret_key)
    [group] = duplicates_here(session, ship.name, secret_key)
    assert group.survivor == str(first) and sorted(group.absorb) == sorted([str(second), str(third)])


def test_one_email_at_one_address_is_no_duplicate(ship: Ship, session: Session, secret_key: str) -> None:
    ship.shipstation.add_customer(name="A", email="a@example.com", **HOME)
    ship.shipstation.add_customer(name="A again", email=" A@Example.com", **HOME)
    read_here(session, ship.name, secret_key)
    assert duplicates_here(session, ship.name, secret_key) == []
