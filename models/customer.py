"""The canonical customer: the one shape every adapter maps to and from.

Adapters translate vendor JSON into these values and back, so the sync rules never see a vendor's
wire format. Values are frozen so that two reads can be compared field by field (diffs, echo
fingerprints) and used as dictionary keys.
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from possync.models.tags import Tags


class ConsentState(enum.StrEnum):
    """Shopify's marketing consent states (email and SMS share them)."""

    SUBSCRIBED = "subscribed"
    PENDING = "pending"
    NOT_SUBSCRIBED = "not_subscribed"
    UNSUBSCRIBED = "unsubscribed"
    REDACTED = "redacted"
    INVALID = "invalid"

    @property
    def allows_marketing(self) -> bool:
        """Only a confirmed subscription lets a POS mark the customer as opted in.

        `pending` is a double opt-in not yet confirmed; every other state is a no.
        """
        return self is ConsentState.SUBSCRIBED


@dataclass(frozen=True, slots=True)
class Consent:
    """One marketing channel's consent and when it was last changed (None when unknown)."""

    state: ConsentState
    updated_at: datetime | None = None

    @classmethod
    def from_flag(cls, opted_in: bool, updated_at: datetime | None = None) -> Consent:
        """A POS keeps consent as one boolean; this is its reading in Shopify terms."""
        return cls(ConsentState.SUBSCRIBED if opted_in else ConsentState.UNSUBSCRIBED, updated_at)


@dataclass(frozen=True, slots=True)
class Address:
    """A postal address. `province_code` holds the code where known, else the name a POS stored."""

    address1: str | None = None
    address2: str | None = None
    city: str | None = None
    province_code: str | None = None
    zip: str | None = None
    country_code: str | None = None
    company: str | None = None

    REQUIRED_FOR_COMPLETE = ("address1", "city", "province_code", "zip", "country_code")

    def missing_fields(self) -> list[str]:
        """The fields a physical address needs (Heartland rule 22) that this one lacks."""
        return [name for name in self.REQUIRED_FOR_COMPLETE if not getattr(self, name)]

    def is_empty(self) -> bool:
        return not any(getattr(self, f.name) for f in dataclasses.fields(self))


@dataclass(frozen=True, slots=True)
class Customer:
    """A customer as possync understands it, independent of Shopify and of each POS.

    `None` means "this side has no value"; the diff rules never write a None over a value.
    """

    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None
    phone: str | None = None
    birthday: date | None = None
    billing_address: Address | None = None
    shipping_address: Address | None = None
    email_consent: Consent | None = None
    sms_consent: Consent | None = None
    tags: Tags = field(default_factory=Tags)

    SYNCED_FIELDS = (
        "first_name",
        "last_name",
        "email",
        "phone",
        "birthday",
        "billing_address",
        "shipping_address",
        "email_consent",
        "sms_consent",
        "tags",
    )

    def __post_init__(self) -> None:
        if type(self.tags) is not Tags:  # rule 50: a tuple given by a caller still compares case-insensitively
            object.__setattr__(self, "tags", Tags(self.tags))

    def replace(self, **changes: Any) -> Customer:
        return dataclasses.replace(self, **changes)

    def to_json(self) -> dict[str, Any]:
        """A JSON-safe dict (for job rows, logs after masking, and fingerprints).

        Written out field by field: `dataclasses.asdict` deep-copies recursively, and a sync converts
        customers often enough for that to be a twentieth of its step CPU.
        """
        return {
            "first_name": self.first_name,
            "last_name": self.last_name,
            "email": self.email,
            "phone": self.phone,
            "birthday": self.birthday.isoformat() if self.birthday else None,
            "billing_address": _address_json(self.billing_address),
            "shipping_address": _address_json(self.shipping_address),
            "email_consent": _consent_json(self.email_consent),
            "sms_consent": _consent_json(self.sms_consent),
            "tags": list(self.tags),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Customer:
        def address(value: Any) -> Address | None:
            return Address(**value) if value else None

        def consent(value: Any) -> Consent | None:
            if not value:
                return None
            stamp = value.get("updated_at")
            return Consent(ConsentState(value["state"]), datetime.fromisoformat(stamp) if stamp else None)

        birthday = data.get("birthday")
        return cls(
            first_name=data.get("first_name"),
            last_name=data.get("last_name"),
            email=data.get("email"),
            phone=data.get("phone"),
            birthday=date.fromisoformat(birthday) if birthday else None,
            billing_address=address(data.get("billing_address")),
            shipping_address=address(data.get("shipping_address")),
            email_consent=consent(data.get("email_consent")),
            sms_consent=consent(data.get("sms_consent")),
            tags=Tags.parse(data.get("tags")),
        )

    def fingerprint(self, fields: tuple[str, ...] = SYNCED_FIELDS) -> str:
        """A stable hash of the given fields' content (consent timestamps left out).

        Used for echo suppression: what possync wrote is fingerprinted, and a change that comes back
        with the same fingerprint is possync's own write, not the merchant's.
        """
        data = self.to_json()
        content = {}
        for name in fields:
            value = data[name]
            if name in ("email_consent", "sms_consent") and value:
                value = value["state"]
            if name == "email" and value:
                value = value.strip().lower()
            if name == "tags":
                value = sorted(self.tags.keys())
            content[name] = value
        blob = json.dumps(content, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()


def _address_json(address: Address | None) -> dict[str, Any] | None:
    return None if address is None else {name: getattr(address, name) for name in _ADDRESS_FIELDS}


def _consent_json(consent: Consent | None) -> dict[str, Any] | None:
    if consent is None:
        return None
    return {"state": consent.state.value,
            "updated_at": consent.updated_at.isoformat() if consent.updated_at else None}


_ADDRESS_FIELDS = tuple(f.name for f in dataclasses.fields(Address))
