"""ShipStation V1 customer JSON -> `ShipStationCustomer`, the value the rest of possync reads.

The rules never see vendor JSON. Which marketplace a record came from decides what the CSV import may
do with it (reference §6.3): only records of the manual marketplace (`marketplaceId` 0) can be updated.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

MANUAL_MARKETPLACE_ID = 0  # "ShipStation": CSV imports, manual orders, "Create Customer" [reference §6.1]
SHOPIFY_MARKETPLACE = "shopify"  # a Shopify store's records: username = the Shopify customer id [§6.2]
# `modifyDate` carries no zone (`2014-11-18T10:33:01.1900000`); read as UTC [UNVERIFIED: the account's zone?]
MODIFY_DATE_ZONE = UTC


class CustomerShapeError(ValueError):
    """A customer object without the fields the contract promises (names the field)."""


@dataclass(frozen=True)
class MarketplaceUsername:
    marketplace_id: int | None
    marketplace: str | None
    username: str | None


@dataclass(frozen=True)
class ShipStationCustomer:
    customer_id: str
    modify_date: datetime | None
    values: dict[str, str | None]  # name, company, street1, street2, city, state, postalCode, countryCode, phone, email
    usernames: tuple[MarketplaceUsername, ...] = ()
    tags: tuple[str, ...] = ()
    raw: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def manual_username(self) -> str | None:
        """The username of its manual-marketplace entry: the key a CSV import updates it by."""
        for entry in self.usernames:
            if entry.marketplace_id == MANUAL_MARKETPLACE_ID and entry.username:
                return entry.username
        return None

    @property
    def store_imported(self) -> bool:
        """Created by a store's order import and not also a manual record: the CSV cannot update it."""
        return self.manual_username is None and bool(self.usernames)

    @property
    def shopify_customer_id(self) -> str | None:
        for entry in self.usernames:
            if (entry.marketplace or "").strip().lower() == SHOPIFY_MARKETPLACE and entry.username:
                return entry.username.strip()
        return None


def parse_date(value: Any) -> datetime | None:
    """`2014-11-18T10:33:01.1900000` (7 fraction digits, no zone) -> an aware datetime; None if junk."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip().rstrip("Z")
    head, _, fraction = text.partition(".")
    try:
        stamp = datetime.fromisoformat(head)
    except ValueError:
        return None
    if fraction.isdigit():
        stamp = stamp.replace(microsecond=int(fraction[:6].ljust(6, "0")))
    return stamp.replace(tzinfo=MODIFY_DATE_ZONE) if stamp.tzinfo is None else stamp


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


VALUE_KEYS = ("name", "company", "street1", "street2", "city", "state", "postalCode", "countryCode", "phone", "email")


def customer_from_json(data: Mapping[str, Any]) -> ShipStationCustomer:
    if not isinstance(data, Mapping) or data.get("customerId") is None:
        raise CustomerShapeError("customerId is missing")
    usernames = []
    for entry in data.get("marketplaceUsernames") or []:
        if isinstance(entry, Mapping):
            mid = entry.get("marketplaceId")
            marketplace_id = int(mid) if isinstance(mid, int | str) and str(mid).isdigit() else None
            usernames.append(MarketplaceUsername(marketplace_id, _text(entry.get("marketplace")),
                                                 _text(entry.get("username"))))
    tags = tuple(t for t in (_text(tag.get("name")) for tag in data.get("tags") or [] if isinstance(tag, Mapping)) if t)
    return ShipStationCustomer(
        customer_id=str(data["customerId"]),
        modify_date=parse_date(data.get("modifyDate")),
        values={key: _text(data.get(key)) for key in VALUE_KEYS},
        usernames=tuple(usernames),
        tags=tags,
        raw=dict(data),
    )
