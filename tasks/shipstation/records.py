"""A tenant's ShipStation customers as possync last read them, and the keys that link them (SPEC rule 46).

A record links to a Shopify customer by username (a Shopify store's records carry the Shopify customer
id; so do the manual records possync's export created), else by email key; to POS customers through
the same email and phone keys as matching (rules 7, 8). `address_key` groups duplicates (rule 49).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any, cast

from sqlalchemy import CursorResult, Row, String, any_, bindparam, delete, or_, select
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session

from possync.adapters.shipstation.mapping import ShipStationCustomer
from possync.models.normalise import email_key, phone_key
from possync.models.tables import PosIndexEntry, ShipStationRecord

_WORDS = re.compile(r"[^0-9a-z]+")
# Spellings of one street word that a typed address varies by; enough to group one household's orders.
_ABBREVIATIONS = {"street": "st", "avenue": "ave", "road": "rd", "boulevard": "blvd", "drive": "dr",
                  "lane": "ln", "suite": "ste", "apartment": "apt", "north": "n", "south": "s", "east": "e",
                  "west": "w", "calle": "c", "avenida": "av"}
_SHOPIFY_ID = re.compile(r"^[0-9]{6,20}$")


def address_key(values: dict[str, str | None]) -> str | None:
    """The postal address, normalised (case, punctuation, spacing, common abbreviations); None without a
    street line and a postal code or city: such records cannot be told to be at one address."""
    def norm(text: str | None) -> str:
        words = _WORDS.sub(" ", (text or "").casefold()).split()
        return " ".join(_ABBREVIATIONS.get(w, w) for w in words)

    street, postal, city = norm(values.get("street1")), norm(values.get("postalCode")), norm(values.get("city"))
    if not street or not (postal or city):
        return None
    parts = (street, norm(values.get("street2")), city, norm(values.get("state")), postal.replace(" ", ""),
             norm(values.get("countryCode")))
    return "|".join(parts)[:512]


def linked_shopify_id(customer: ShipStationCustomer) -> str | None:
    """A Shopify store's username, or a manual username shaped like a Shopify id (possync's own rows)."""
    if customer.shopify_customer_id:
        return customer.shopify_customer_id
    username = customer.manual_username
    return username if username and _SHOPIFY_ID.match(username) else None


def row_values(tenant_id: int, customer: ShipStationCustomer, region: str) -> dict[str, Any]:
    values = customer.values
    email = email_key(values.get("email"))
    phone = phone_key(values.get("phone"), region)
    return {
        "tenant_id": tenant_id, "customer_id": customer.customer_id,
        "shopify_customer_id": linked_shopify_id(customer), "manual_username": customer.manual_username,
        "store_imported": customer.store_imported,
        "email_key": email if email and len(email) <= 320 else None,
        "phone_key": phone if phone and len(phone) <= 32 else None,
        "address_key": address_key(values), "modify_date": customer.modify_date,
        "record": {"values": dict(values), "tags": list(customer.tags),
                   "usernames": [[u.marketplace_id, u.marketplace, u.username] for u in customer.usernames]},
    }


def store(session: Session, tenant_id: int, customers: Sequence[ShipStationCustomer], region: str) -> None:
    """Insert or replace these records (one page); idempotent, so a page read twice changes nothing."""
    if not customers:
        return
    ids = [c.customer_id for c in customers]
    held = {r.customer_id: r for r in session.scalars(select(ShipStationRecord).where(
        ShipStationRecord.tenant_id == tenant_id, ShipStationRecord.customer_id.in_(ids)))}
    for customer in customers:
        values = row_values(tenant_id, customer, region)
        row = held.get(customer.customer_id)
        if row is None:
            row = ShipStationRecord(**values)
            session.add(row)
            held[customer.customer_id] = row
        else:
            for name, value in values.items():
                setattr(row, name, value)
    session.flush()


def for_shopify_customers(session: Session, tenant_id: int, shopify_ids: Iterable[str],
                          email_keys: Iterable[str]) -> list[Row[Any]]:
    """Records of these Shopify customers: by their id as username, or by email key (one query a page).

    Plain rows with the table's column names, not ORM objects: the export only reads them, and building
    tracked objects was most of its time."""
    ids, emails = list(set(shopify_ids)), [e for e in set(email_keys) if e]
    if not ids and not emails:
        return []
    postgres = session.get_bind().dialect.name == "postgresql"
    return list(session.execute(select(*ShipStationRecord.__table__.columns).where(
        ShipStationRecord.tenant_id == tenant_id,
        or_(_among(ShipStationRecord.shopify_customer_id, ids, postgres),
            _among(ShipStationRecord.manual_username, ids, postgres),
            _among(ShipStationRecord.email_key, emails, postgres)))).all())


def _among(column: Any, values: list[str], postgres: bool) -> Any:
    """`column IN (...)`; on PostgreSQL `= ANY(array)`: one bound array, so a page's 250 ids are not
    compiled and split into 250 parameters for every query."""
    if postgres:
        return column == any_(bindparam(None, values, type_=postgresql.ARRAY(String)))
    return column.in_(values)


def about_customer(session: Session, tenant_id: int, shopify_id: str,
                   pos_customer_id: str | None) -> list[ShipStationRecord]:
    """What possync holds from ShipStation about one Shopify customer (privacy, rules 28 and 53): the
    records linked by id, and those sharing the email or phone key of its linked POS customer."""
    keys = []
    if pos_customer_id is not None:
        entry = session.scalar(select(PosIndexEntry).where(PosIndexEntry.tenant_id == tenant_id,
                                                           PosIndexEntry.pos_customer_id == pos_customer_id))
        if entry is not None:
            if entry.email_key:
                keys.append(ShipStationRecord.email_key == entry.email_key)
            if entry.phone_key:
                keys.append(ShipStationRecord.phone_key == entry.phone_key)
    return list(session.scalars(select(ShipStationRecord).where(
        ShipStationRecord.tenant_id == tenant_id,
        or_(ShipStationRecord.shopify_customer_id == shopify_id, ShipStationRecord.manual_username == shopify_id,
            *keys)).order_by(ShipStationRecord.customer_id)))


def pos_customers_of(session: Session, tenant_id: int, record: ShipStationRecord) -> list[str]:
    """POS customers sharing the record's email or phone key (matching's keys), oldest first."""
    keys = []
    if record.email_key:
        keys.append(PosIndexEntry.email_key == record.email_key)
    if record.phone_key:
        keys.append(PosIndexEntry.phone_key == record.phone_key)
    if not keys:
        return []
    return list(session.scalars(select(PosIndexEntry.pos_customer_id).where(
        PosIndexEntry.tenant_id == tenant_id, or_(*keys)).order_by(PosIndexEntry.age_key)))


def describe(session: Session, tenant_id: int, record: ShipStationRecord) -> dict[str, Any]:
    """One record for `possync privacy export`: what was read, and what it links to."""
    return {"customer_id": record.customer_id, "shopify_customer_id": record.shopify_customer_id,
            "manual_username": record.manual_username, "store_imported": record.store_imported,
            "modify_date": record.modify_date.isoformat() if record.modify_date else None,
            "values": record.record.get("values", {}), "tags": record.record.get("tags", []),
            "pos_customer_ids": pos_customers_of(session, tenant_id, record)}


def forget(session: Session, tenant_id: int, customer_ids: Iterable[str]) -> int:
    ids = list(customer_ids)
    if not ids:
        return 0
    result = cast(CursorResult, session.execute(delete(ShipStationRecord).where(
        ShipStationRecord.tenant_id == tenant_id, ShipStationRecord.customer_id.in_(ids))))
    return int(result.rowcount or 0)
