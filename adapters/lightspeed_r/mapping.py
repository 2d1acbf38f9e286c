"""R-Series customer JSON <-> the canonical `Customer` / `PosCustomer`.

The vendor's wire format is hostile to naive code (pos-apis.md §1.3 and Gotchas 1-4): every scalar is
a string, `"false"` is truthy, `"0"` means "no foreign key", a collection with one element is a bare
object, with several an array, and an empty one is the empty string. Everything here goes through
`as_list()` and the typed readers of `_Reader`, which turn any surprise into a `BadResponseError`
naming the endpoint and the field instead of an `AttributeError` deep in a task.

Writing: the canonical fields map to `firstName`, `lastName`, `dob`, `Contact` (Emails, Phones,
Addresses, and the opt-OUT flags `noEmail` / `noPhone`) and the `Tags` relation. A PUT that carries
`Emails`, `Phones` or `Addresses` is assumed to replace that collection [U], so updates resend the
entries they do not own (a `Work` phone, a `Secondary` email) with their ids.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any

from possync.adapters.base import PosCustomer
from possync.adapters.errors import BadResponseError
from possync.adapters.lightspeed_r.errors import VENDOR
from possync.models.customer import Address, Consent, Customer
from possync.models.tables import PosStatus
from possync.models.tags import Tags

# Relations every read asks for, as the JSON array string the vendor requires (Gotcha 4).
LOAD_RELATIONS = '["Contact","Tags"]'

PHONE_SLOT = "Home"  # SPEC rule 15: phone 1 is the Home phone
PHONE_READ_ORDER = ("Home", "Mobile", "Work", "Pager", "Fax")  # which stored phone is "the" phone
EMAIL_SLOT = "Primary"
# [U] The Tags relation's shape is not in our sources for Customer; Item uses {"tag": "x" | ["x", "y"]}.
TAGS_ELEMENT = "tag"

# Canonical fields an update may carry, and the ones that need the current record to be written
# (their vendor collection is replaced as a whole).
COLLECTION_FIELDS = frozenset({"email", "phone", "billing_address"})
IGNORED_FIELDS = frozenset({"shipping_address"})  # R-Series keeps one address (Capabilities.shipping_address)


# --- reading -------------------------------------------------------------------------------------
class _Reader:
    """Typed access to vendor JSON that fails as `BadResponseError(field)`, never as a TypeError."""

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint

    def bad(self, field: str, problem: str) -> BadResponseError:
        return BadResponseError(f"field {field!r} {problem}", vendor=VENDOR, endpoint=self.endpoint)

    def obj(self, value: Any, field: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.bad(field, f"should be an object, got {type(value).__name__}")
        return value

    def text(self, data: Mapping[str, Any], key: str, path: str, *, required: bool = False) -> str | None:
        """A string field; None when absent (unless required). Numbers are tolerated as text."""
        if key not in data or data[key] is None:
            if required:
                raise self.bad(f"{path}.{key}", "is missing")
            return None
        value = data[key]
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise self.bad(f"{path}.{key}", f"should be a string, got {type(value).__name__}")
        return str(value)

    def optional_text(self, data: Mapping[str, Any], key: str, path: str) -> str | None:
        """A string field where the vendor's `""` means "no value"."""
        value = self.text(data, key, path)
        return (value.strip() or None) if value is not None else None

    def flag(self, data: Mapping[str, Any], key: str, path: str, *, required: bool = False) -> bool | None:
        """`"true"`/`"false"` (Gotcha 3: never trust Python truthiness of the string)."""
        if key not in data or data[key] is None:
            if required:
                raise self.bad(f"{path}.{key}", "is missing")
            return None
        value = data[key]
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "1"):
            return True
        if isinstance(value, str) and value.lower() in ("false", "0", ""):
            return False
        raise self.bad(f"{path}.{key}", f"should be 'true' or 'false', got {value!r}")

    def stamp(self, data: Mapping[str, Any], key: str, path: str, *, required: bool = False) -> datetime | None:
        value = self.text(data, key, path, required=required)
        if not value:
            if required:
                raise self.bad(f"{path}.{key}", "is empty")
            return None
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise self.bad(f"{path}.{key}", "is not an ISO-8601 timestamp") from None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)

    def elements(self, data: Mapping[str, Any], collection: str, element: str, path: str) -> list[Any]:
        """`{"Emails": {"ContactEmail": x}}` -> list, for x an object, an array, or `""` (Gotchas 1, 2)."""
        holder = data.get(collection)
        if holder in (None, "", [], {}):
            return []
        holder = self.obj(holder, f"{path}.{collection}")
        return as_list(holder.get(element), lambda problem: self.bad(f"{path}.{collection}.{element}", problem))

    def element_objects(self, data: Mapping[str, Any], collection: str, element: str, path: str) -> list[dict]:
        items = self.elements(data, collection, element, path)
        return [self.obj(item, f"{path}.{collection}.{element}") for item in items]


def as_list(value: Any, fail: Any = None) -> list[Any]:
    """One element is a bare value, several an array, none `""` / absent: always give a list."""
    if value is None or value == "":
        return []
    if isinstance(value, list):
        return value
    if isinstance(value, dict | str | int | float):
        return [value]
    if fail is not None:
        raise fail(f"has an unexpected type {type(value).__name__}")
    raise TypeError(f"unexpected collection type {type(value).__name__}")


def records_from_list(body: Any, endpoint: str) -> list[dict[str, Any]]:
    """The `Customer` records of a list response (`{"@attributes": ..., "Customer": x}`)."""
    reader = _Reader(endpoint)
    body = reader.obj(body, "(body)")
    items = as_list(body.get("Customer"), lambda problem: reader.bad("Customer", problem))
    return [reader.obj(item, "Customer") for item in items]


def record_from_single(body: Any, endpoint: str) -> dict[str, Any]:
    """The one `Customer` of a get/create/update/delete response."""
    reader = _Reader(endpoint)
    body = reader.obj(body, "(body)")
    if "Customer" not in body:
        raise reader.bad("Customer", "is missing")
    items = as_list(body["Customer"], lambda problem: reader.bad("Customer", problem))
    if len(items) != 1:
        raise reader.bad("Customer", f"should hold one customer, holds {len(items)}")
    return reader.obj(items[0], "Customer")


def next_url(body: Any, endpoint: str) -> str | None:
    """`@attributes.next`: a full URL to follow exactly, or None when it is `""` (Gotcha 5)."""
    reader = _Reader(endpoint)
    attributes = reader.obj(reader.obj(body, "(body)").get("@attributes", {}), "@attributes")
    value = attributes.get("next", "")
    if value in (None, ""):
        return None
    if not isinstance(value, str) or not value.startswith("http"):
        raise reader.bad("@attributes.next", "should be a URL")
    return value


def record_id(record: Mapping[str, Any], endpoint: str) -> str:
    reader = _Reader(endpoint)
    value = reader.text(record, "customerID", "Customer", required=True)
    if not value or not value.isdigit() or value == "0":
        raise reader.bad("Customer.customerID", "should be a positive integer string")
    return value


def record_stamp(record: Mapping[str, Any], endpoint: str) -> tuple[str, datetime]:
    """The record's `timeStamp` as sent (for the poll cursor) and parsed (for comparing)."""
    reader = _Reader(endpoint)
    parsed = reader.stamp(record, "timeStamp", "Customer", required=True)
    assert parsed is not None
    return str(record["timeStamp"]), parsed


def parse_dob(value: str) -> date:
    """`dob` is a datetime at the store's local midnight, often shown in UTC (`...T08:00:00+00:00` in
    the docs). Rounding to the nearest UTC midnight recovers the calendar day for any store offset
    under 12 h either side, whichever offset the vendor prints."""
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        return parsed.date()
    utc = parsed.astimezone(UTC)
    return (utc + timedelta(hours=12)).date()


def format_dob(value: date) -> str:
    return f"{value.isoformat()}T00:00:00+00:00"


def contact_of(record: Mapping[str, Any], endpoint: str) -> dict[str, Any] | None:
    """The loaded `Contact` relation, or None when it was not loaded."""
    value = record.get("Contact")
    if value is None:
        return None
    if value == "":
        return {}
    return _Reader(endpoint).obj(value, "Customer.Contact")


def emails_of(record: Mapping[str, Any], endpoint: str) -> list[dict[str, Any]]:
    contact = contact_of(record, endpoint) or {}
    return _Reader(endpoint).element_objects(contact, "Emails", "ContactEmail", "Customer.Contact")


def phones_of(record: Mapping[str, Any], endpoint: str) -> list[dict[str, Any]]:
    contact = contact_of(record, endpoint) or {}
    return _Reader(endpoint).element_objects(contact, "Phones", "ContactPhone", "Customer.Contact")


def addresses_of(record: Mapping[str, Any], endpoint: str) -> list[dict[str, Any]]:
    contact = contact_of(record, endpoint) or {}
    return _Reader(endpoint).element_objects(contact, "Addresses", "ContactAddress", "Customer.Contact")


def email_addresses(record: Mapping[str, Any], endpoint: str) -> list[str]:
    """Every stored email (for re-checking a vendor search on our side)."""
    reader = _Reader(endpoint)
    path = "Customer.Contact.Emails.ContactEmail"
    return [v for e in emails_of(record, endpoint) if (v := reader.optional_text(e, "address", path))]


def phone_numbers(record: Mapping[str, Any], endpoint: str) -> list[str]:
    reader = _Reader(endpoint)
    path = "Customer.Contact.Phones.ContactPhone"
    return [v for p in phones_of(record, endpoint) if (v := reader.optional_text(p, "number", path))]


def _pick_email(entries: list[dict[str, Any]], reader: _Reader) -> str | None:
    path = "Customer.Contact.Emails.ContactEmail"
    ordered = sorted(entries, key=lambda e: 0 if e.get("useType") == EMAIL_SLOT else 1)
    for entry in ordered:
        if value := reader.optional_text(entry, "address", path):
            return value
    return None


def _pick_phone(entries: list[dict[str, Any]], reader: _Reader) -> str | None:
    path = "Customer.Contact.Phones.ContactPhone"

    def rank(entry: dict[str, Any]) -> int:
        use = entry.get("useType")
        return PHONE_READ_ORDER.index(use) if use in PHONE_READ_ORDER else len(PHONE_READ_ORDER)

    for entry in sorted(entries, key=rank):
        if value := reader.optional_text(entry, "number", path):
            return value
    return None


def _read_address(entry: dict[str, Any], company: str | None, reader: _Reader) -> Address | None:
    path = "Customer.Contact.Addresses.ContactAddress"
    address = Address(
        address1=reader.optional_text(entry, "address1", path),
        address2=reader.optional_text(entry, "address2", path),
        city=reader.optional_text(entry, "city", path),
        province_code=reader.optional_text(entry, "stateCode", path) or reader.optional_text(entry, "state", path),
        zip=reader.optional_text(entry, "zip", path),
        country_code=reader.optional_text(entry, "countryCode", path) or reader.optional_text(entry, "country", path),
    )
    if address.is_empty():
        return None
    return dataclasses.replace(address, company=company) if company else address


def _read_tags(record: Mapping[str, Any], reader: _Reader) -> Tags:
    holder = record.get("Tags")
    if holder in (None, "", [], {}):
        return Tags()
    holder = reader.obj(holder, "Customer.Tags")
    values = as_list(holder.get(TAGS_ELEMENT), lambda problem: reader.bad(f"Customer.Tags.{TAGS_ELEMENT}", problem))
    tags: list[str] = []
    for value in values:
        if not isinstance(value, str):
            raise reader.bad(f"Customer.Tags.{TAGS_ELEMENT}", f"should hold strings, got {type(value).__name__}")
        tags.append(value)
    return Tags(tags)  # rule 50: `VIP` and `vip` typed in store are one tag


def to_pos_customer(record: Mapping[str, Any], endpoint: str) -> PosCustomer:
    """A vendor `Customer` (relations loaded or not) as a `PosCustomer`."""
    reader = _Reader(endpoint)
    pos_id = record_id(record, endpoint)
    archived = reader.flag(record, "archived", "Customer", required=True)
    updated_at = reader.stamp(record, "timeStamp", "Customer", required=True)
    created_at = reader.stamp(record, "createTime", "Customer")
    dob_text = reader.optional_text(record, "dob", "Customer")
    try:
        birthday = parse_dob(dob_text) if dob_text else None
    except ValueError:
        raise reader.bad("Customer.dob", "is not an ISO-8601 date") from None
    company = reader.optional_text(record, "company", "Customer")

    contact = contact_of(record, endpoint)
    email = phone = billing = email_consent = sms_consent = None
    if contact is not None:
        path = "Customer.Contact"
        email = _pick_email(reader.element_objects(contact, "Emails", "ContactEmail", path), reader)
        phone = _pick_phone(reader.element_objects(contact, "Phones", "ContactPhone", path), reader)
        for entry in reader.element_objects(contact, "Addresses", "ContactAddress", path):
            billing = _read_address(entry, company, reader)
            if billing is not None:
                break
        # Consent changed at the latest when the record (or its contact) last did.
        contact_stamp = reader.stamp(contact, "timeStamp", path)
        consent_at = max(s for s in (updated_at, contact_stamp) if s is not None)
        no_email = reader.flag(contact, "noEmail", path)
        no_phone = reader.flag(contact, "noPhone", path)
        if no_email is not None:
            email_consent = Consent.from_flag(not no_email, updated_at=consent_at)
        if no_phone is not None:
            sms_consent = Consent.from_flag(not no_phone, updated_at=consent_at)

    customer = Customer(
        first_name=reader.optional_text(record, "firstName", "Customer"),
        last_name=reader.optional_text(record, "lastName", "Customer"),
        email=email,
        phone=phone,
        birthday=birthday,
        billing_address=billing,
        shipping_address=None,
        email_consent=email_consent,
        sms_consent=sms_consent,
        tags=_read_tags(record, reader),
    )
    status = PosStatus.ARCHIVED if archived else PosStatus.ACTIVE
    return PosCustomer(pos_id=pos_id, status=status, customer=customer, created_at=created_at, updated_at=updated_at,
                       vendor_state=collections_state(contact))


def collections_state(contact: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The contact collections an update replaces as a whole (with their ids), as `update_body` reads
    them from a record; None when the reading did not load `Contact`."""
    if contact is None:
        return None
    return {"Contact": {k: contact[k] for k in ("Emails", "Phones", "Addresses") if k in contact}}


# --- writing -------------------------------------------------------------------------------------
def _state_code(value: str | None) -> str:
    """`stateCode` only when the canonical value looks like a code; a name goes to `state` alone."""
    if value and 1 <= len(value) <= 3 and value.isalnum() and value.upper() == value:
        return value
    return ""


def address_body(address: Address, existing: Mapping[str, Any] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "address1": address.address1 or "",
        "address2": address.address2 or "",
        "city": address.city or "",
        "state": address.province_code or "",
        "stateCode": _state_code(address.province_code),
        "zip": address.zip or "",
        "countryCode": address.country_code or "",
    }
    if existing and existing.get("contactAddressID") not in (None, "", "0"):
        body["contactAddressID"] = existing["contactAddressID"]
    return body


def _keep(entry: Mapping[str, Any], id_key: str, value_key: str) -> dict[str, Any]:
    """An existing collection entry, resent as it is so a replacing PUT keeps it."""
    return {k: entry[k] for k in (id_key, value_key, "useType") if k in entry}


def _replace_slot(
    entries: list[dict[str, Any]], slot: str, value: str | None, id_key: str, value_key: str
) -> list[dict[str, Any]]:
    """The collection with the `slot` entry set to `value` (or removed for None); others kept."""
    others = [_keep(e, id_key, value_key) for e in entries if e.get("useType") != slot]
    if value is None:
        return others
    new: dict[str, Any] = {value_key: value, "useType": slot}
    current = next((e for e in entries if e.get("useType") == slot), None)
    if current and current.get(id_key) not in (None, "", "0"):
        new[id_key] = current[id_key]
    return [new, *others]


def _consent_flag(consent: Consent) -> bool:
    """The vendor flag is an opt-OUT: `noEmail = true` means "do not market"."""
    return not consent.state.allows_marketing


def create_body(customer: Customer) -> dict[str, Any]:
    """The POST body for a new customer (the bare object, no wrapper)."""
    body: dict[str, Any] = {}
    if customer.first_name:
        body["firstName"] = customer.first_name
    if customer.last_name:
        body["lastName"] = customer.last_name
    if customer.birthday:
        body["dob"] = format_dob(customer.birthday)
    address = customer.billing_address
    if address is not None and address.company:
        body["company"] = address.company
    contact: dict[str, Any] = {}
    if customer.email_consent is not None:
        contact["noEmail"] = _consent_flag(customer.email_consent)
    if customer.sms_consent is not None:
        contact["noPhone"] = _consent_flag(customer.sms_consent)
    if customer.email:
        contact["Emails"] = {"ContactEmail": [{"address": customer.email, "useType": EMAIL_SLOT}]}
    if customer.phone:
        contact["Phones"] = {"ContactPhone": [{"number": customer.phone, "useType": PHONE_SLOT}]}
    if address is not None and not address.is_empty():
        contact["Addresses"] = {"ContactAddress": [address_body(address)]}
    if contact:
        body["Contact"] = contact
    if customer.tags:
        body["Tags"] = {TAGS_ELEMENT: list(customer.tags)}
    return body


def update_body(changes: Mapping[str, Any], current: Mapping[str, Any] | None, endpoint: str) -> dict[str, Any]:
    """The PUT body writing exactly the canonical fields in `changes`.

    `current` is the vendor record with Contact loaded; it is needed only for `email`, `phone` and
    `billing_address`, whose vendor collections are replaced as a whole.
    """
    unknown = set(changes) - set(Customer.SYNCED_FIELDS)
    if unknown:
        raise ValueError(f"not canonical customer fields: {sorted(unknown)}")
    body: dict[str, Any] = {}
    contact: dict[str, Any] = {}
    current = current or {}
    for name, value in changes.items():
        if name == "first_name":
            body["firstName"] = value or ""
        elif name == "last_name":
            body["lastName"] = value or ""
        elif name == "birthday":
            body["dob"] = format_dob(value) if value else ""
        elif name == "email":
            emails = _replace_slot(emails_of(current, endpoint), EMAIL_SLOT, value or None, "contactEmailID", "address")
            contact["Emails"] = {"ContactEmail": emails}
        elif name == "phone":
            phones = _replace_slot(phones_of(current, endpoint), PHONE_SLOT, value or None, "contactPhoneID", "number")
            contact["Phones"] = {"ContactPhone": phones}
        elif name == "billing_address":
            existing = addresses_of(current, endpoint)
            rest = [_keep_address(e) for e in existing[1:]]
            if value is None or value.is_empty():
                contact["Addresses"] = {"ContactAddress": rest}
            else:
                first = existing[0] if existing else None
                contact["Addresses"] = {"ContactAddress": [address_body(value, first), *rest]}
                if value.company:
                    body["company"] = value.company
        elif name == "email_consent":
            if value is not None:
                contact["noEmail"] = _consent_flag(value)
        elif name == "sms_consent":
            if value is not None:
                contact["noPhone"] = _consent_flag(value)
        elif name == "tags":
            body["Tags"] = {TAGS_ELEMENT: list(Tags(value or ()))}
        # shipping_address: R-Series has no second address (Capabilities.shipping_address is False).
    if contact:
        body["Contact"] = contact
    return body


def _keep_address(entry: Mapping[str, Any]) -> dict[str, Any]:
    keys = ("contactAddressID", "address1", "address2", "city", "state", "stateCode", "zip", "country", "countryCode")
    return {k: entry[k] for k in keys if k in entry}
