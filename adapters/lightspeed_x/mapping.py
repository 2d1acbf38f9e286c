"""X-Series customer JSON <-> the canonical `Customer` / `PosCustomer`.

Choices where the POS has no exact slot (SPEC rules 14-18, 25):

- **Phone 1** is written to `phone` (rule 15). Reading, `phone` wins and `mobile` stands in when
  `phone` is empty, because store staff often key a number into either and matching needs it.
- **Billing (main) address** is the `physical_*` block, the one the X-Series customer form shows
  first; the **shipping address** is the `postal_*` block. `Address.company` of the billing address
  is the customer's `company_name`. `physical_suburb` / `postal_suburb` have no canonical slot and are
  never written.
- **Tags**: X-Series customers have no tags. `customer_group_id` is one group per customer (the
  pricing / loyalty "customer type"), not free labels, and `note` is free text staff write by hand.
  Tags therefore go to `custom_field_4` (`TAGS_FIELD`) as `"Shopify, acmestore"`: a dedicated text
  field shown on the profile and in customer exports, where the merchant can filter on it. Field 4 is
  the one least likely already in use (stores fill custom fields from 1 up).
- **Email consent**: `do_not_email` is an OPT-OUT flag, so it is the inverse of "may market". SMS
  consent is `enable_promotional_sms` (opt-in). Both are written from `ConsentState.allows_marketing`
  and read back with the record's `updated_at` as the consent time (X-Series keeps no separate one).
  On create, an unknown consent is written as "no marketing".
- Vendor responses leave out keys whose value is null (see the API examples), so a missing optional
  key is None; a key with the wrong type is a `BadResponseError` naming the endpoint and field.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime
from typing import Any

from possync.adapters.base import PosCustomer
from possync.adapters.errors import BadResponseError
from possync.adapters.lightspeed_x.errors import VENDOR
from possync.models.customer import Address, Consent, Customer
from possync.models.tables import PosStatus
from possync.models.tags import Tags

TAGS_FIELD = "custom_field_4"
BILLING_PREFIX = "physical"
SHIPPING_PREFIX = "postal"
# canonical Address attribute -> X-Series field suffix (after "physical_" / "postal_")
ADDRESS_PARTS: dict[str, str] = {
    "address1": "address_1",
    "address2": "address_2",
    "city": "city",
    "province_code": "state",
    "zip": "postcode",
    "country_code": "country_id",
}


class _Reader:
    """Typed access to one vendor record; every problem names the endpoint and the field."""

    def __init__(self, record: Any, endpoint: str, where: str = "data") -> None:
        if not isinstance(record, dict):
            raise self._bad(endpoint, where, "is not an object")
        self.record = record
        self.endpoint = endpoint
        self.where = where

    @staticmethod
    def _bad(endpoint: str, field_name: str, problem: str) -> BadResponseError:
        return BadResponseError(f"field {field_name!r} {problem}", vendor=VENDOR, endpoint=endpoint)

    def bad(self, key: str, problem: str) -> BadResponseError:
        return self._bad(self.endpoint, f"{self.where}.{key}", problem)

    def text(self, key: str) -> str | None:
        """A string field, trimmed; missing, null and blank are None."""
        value = self.record.get(key)
        if value is None:
            return None
        if not isinstance(value, str):
            raise self.bad(key, f"is a {type(value).__name__}, not a string")
        return value.strip() or None

    def required_text(self, key: str) -> str:
        value = self.text(key)
        if value is None:
            raise self.bad(key, "is missing")
        return value

    def flag(self, key: str, default: bool) -> bool:
        value = self.record.get(key)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise self.bad(key, f"is a {type(value).__name__}, not a boolean")
        return value

    def day(self, key: str) -> date | None:
        value = self.text(key)
        if value is None:
            return None
        try:
            return date.fromisoformat(value[:10])
        except ValueError:
            raise self.bad(key, "is not a YYYY-MM-DD date") from None

    def stamp(self, key: str) -> datetime | None:
        value = self.text(key)
        if value is None:
            return None
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise self.bad(key, "is not an ISO-8601 timestamp") from None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)

    def address(self, prefix: str, company_key: str | None = None) -> Address | None:
        parts = {attr: self.text(f"{prefix}_{suffix}") for attr, suffix in ADDRESS_PARTS.items()}
        company = self.text(company_key) if company_key else None
        address = Address(company=company, **parts)
        return None if address.is_empty() else address


# --- vendor -> canonical --------------------------------------------------------------------------
def from_vendor(record: Any, endpoint: str, where: str = "data") -> PosCustomer:
    """One X-Series customer (2.0 shape) as a `PosCustomer`."""
    r = _Reader(record, endpoint, where)
    pos_id = r.required_text("id")
    updated_at = r.stamp("updated_at")
    created_at = r.stamp("created_at")
    deleted_at = r.text("deleted_at")
    customer = Customer(
        first_name=r.text("first_name"),
        last_name=r.text("last_name"),
        email=r.text("email"),
        phone=r.text("phone") or r.text("mobile"),
        birthday=r.day("date_of_birth"),
        billing_address=r.address(BILLING_PREFIX, company_key="company_name"),
        shipping_address=r.address(SHIPPING_PREFIX),
        email_consent=Consent.from_flag(not r.flag("do_not_email", False), updated_at=updated_at),
        sms_consent=Consent.from_flag(r.flag("enable_promotional_sms", False), updated_at=updated_at),
        tags=tags_from_field(r.text(TAGS_FIELD)),
    )
    status = PosStatus.DELETED if deleted_at else PosStatus.ACTIVE
    return PosCustomer(pos_id=pos_id, status=status, customer=customer, created_at=created_at, updated_at=updated_at)


def tags_from_field(value: str | None) -> Tags:
    """`"Shopify, acmestore"` -> Tags("Shopify", "acmestore"); one tag whatever its case (rule 50)."""
    return Tags.parse(value)


def tags_to_field(tags: Iterable[str]) -> str | None:
    return Tags(tags).text() or None


# --- canonical -> vendor --------------------------------------------------------------------------
def _allows(consent: Consent | None) -> bool:
    return consent is not None and consent.state.allows_marketing


def address_to_vendor(address: Address | None, prefix: str, *, skip_empty: bool = False) -> dict[str, Any]:
    """The `{prefix}_*` fields of an address; None parts are null (or left out with `skip_empty`)."""
    fields: dict[str, Any] = {}
    for attr, suffix in ADDRESS_PARTS.items():
        value = getattr(address, attr) if address is not None else None
        if value is None and skip_empty:
            continue
        fields[f"{prefix}_{suffix}"] = value
    if prefix == BILLING_PREFIX and address is not None and address.company:
        fields["company_name"] = address.company
    return fields


def to_vendor_create(customer: Customer) -> dict[str, Any]:
    """A CustomerBase body for POST: names always present (the spec requires the keys), no nulls
    elsewhere (the vendor's defaults apply), no `customer_code` (the vendor generates a unique one)."""
    body: dict[str, Any] = {"first_name": customer.first_name, "last_name": customer.last_name}
    optional = {
        "email": customer.email,
        "phone": customer.phone,
        "date_of_birth": customer.birthday.isoformat() if customer.birthday else None,
        TAGS_FIELD: tags_to_field(customer.tags),
    }
    body |= {k: v for k, v in optional.items() if v is not None}
    body |= address_to_vendor(customer.billing_address, BILLING_PREFIX, skip_empty=True)
    body |= address_to_vendor(customer.shipping_address, SHIPPING_PREFIX, skip_empty=True)
    body["do_not_email"] = not _allows(customer.email_consent)
    body["enable_promotional_sms"] = _allows(customer.sms_consent)
    return body


def to_vendor_changes(changes: Mapping[str, Any]) -> dict[str, Any]:
    """A partial PUT body holding exactly the given canonical fields.

    A None consent has no opinion and writes nothing; a None address clears that address block.
    """
    unknown = set(changes) - set(Customer.SYNCED_FIELDS)
    if unknown:
        raise ValueError(f"not synced fields: {sorted(unknown)}")
    body: dict[str, Any] = {}
    for name, value in changes.items():
        if name in ("first_name", "last_name", "email", "phone"):
            body[name] = value
        elif name == "birthday":
            body["date_of_birth"] = value.isoformat() if value else None
        elif name == "billing_address":
            body |= address_to_vendor(value, BILLING_PREFIX)
        elif name == "shipping_address":
            body |= address_to_vendor(value, SHIPPING_PREFIX)
        elif name == "email_consent" and value is not None:
            body["do_not_email"] = not _allows(value)
        elif name == "sms_consent" and value is not None:
            body["enable_promotional_sms"] = _allows(value)
        elif name == "tags":
            body[TAGS_FIELD] = tags_to_field(value or ())
    return body
