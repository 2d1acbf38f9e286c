"""Heartland Retail customer JSON <-> the canonical `Customer` (pos-apis.md section 3.3).

Pure functions, no HTTP: the adapter feeds them records and turns a `RecordError` into a
`BadResponseError` naming the endpoint. Heartland keeps opt-in, birthday and tags only in merchant
custom fields (`custom.<key>`), so those go through the tenant's `heartland_custom_fields` mapping;
an unmapped canonical field is neither written nor read.

Protocol fields (ids, flags, timestamps) are checked strictly: a wrong type is a broken contract.
Custom-field values are typed by store staff into free-form fields, so a value that does not parse
(a birthday of "March-ish") reads as "no value" instead of failing the whole poll.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from possync.adapters.base import Capabilities, PosCustomer
from possync.models.customer import Address, Consent, Customer
from possync.models.normalise import email_key
from possync.models.tables import PosStatus
from possync.models.tags import Tags

# Canonical names a tenant may map to merchant custom-field keys (`settings.heartland_custom_fields`).
EMAIL_OPT_IN = "email_opt_in"
SMS_OPT_IN = "sms_opt_in"
BIRTHDAY = "birthday"
TAGS = "tags"
CUSTOM_FIELD_NAMES = (EMAIL_OPT_IN, SMS_OPT_IN, BIRTHDAY, TAGS)

# [U] The customer-level phone field. The response model has `phone_number` [C]; whether it is writable is
# unconfirmed. Set to None to stop writing it (phones then live only on the address, as the contract says).
CUSTOMER_PHONE_FIELD: str | None = "phone_number"
ADDRESS_PHONE_FIELD = "phone"  # [C-official] phones are stored on each address

# [U] How an opt-in is written into a merchant custom field. A checkbox field takes JSON booleans; a text
# field would want "Yes"/"No". Change these two lines if the tenant's field is text.
OPT_IN_TRUE: Any = True
OPT_IN_FALSE: Any = False
_TRUE_WORDS = frozenset({"true", "t", "yes", "y", "1", "on", "subscribed", "opted in", "opt-in", "x"})
_FALSE_WORDS = frozenset({"false", "f", "no", "n", "0", "off", "unsubscribed", "opted out", "opt-out"})
_BIRTHDAY_FORMATS = ("%Y-%m-%d", "%m/%d/%Y", "%Y/%m/%d")

# Canonical Address field -> Heartland address key. `company` has no Heartland address field.
ADDRESS_KEYS = {
    "address1": "line_1",
    "address2": "line_2",
    "city": "city",
    "province_code": "state",
    "zip": "postal_code",
    "country_code": "country",
}

CAPABILITIES = Capabilities(
    phone_slot="mobile",
    has_tags=False,
    sms_consent=False,
    shipping_address=True,
    tags_field=None,
    can_unarchive=True,
    birthday=False,
    email_consent=False,
)


class RecordError(Exception):
    """A vendor record broke the contract at `field`; the adapter adds vendor and endpoint."""

    def __init__(self, field: str, problem: str) -> None:
        self.field = field
        self.problem = problem
        super().__init__(f"field {field!r} {problem}")


@dataclass(frozen=True)
class CustomFields:
    """The tenant's custom-field keys for the canonical fields Heartland has no standard slot for."""

    email_opt_in: str | None = None
    sms_opt_in: str | None = None
    birthday: str | None = None
    tags: str | None = None

    @classmethod
    def from_settings(cls, mapping: Mapping[str, str] | None) -> CustomFields:
        """Reject unknown canonical names: a typo would otherwise silently stop syncing a field."""
        mapping = dict(mapping or {})
        unknown = sorted(set(mapping) - set(CUSTOM_FIELD_NAMES))
        if unknown:
            raise ValueError(
                f"settings.heartland_custom_fields: unknown field(s) {', '.join(unknown)}; "
                f"known: {', '.join(CUSTOM_FIELD_NAMES)}"
            )
        return cls(**{name: (key or None) for name, key in mapping.items()})


def capabilities_for(fields: CustomFields) -> Capabilities:
    """SMS consent exists only when the merchant keeps it in a mapped custom field; tags likewise."""
    return Capabilities(
        phone_slot=CAPABILITIES.phone_slot,
        has_tags=False,
        sms_consent=fields.sms_opt_in is not None,
        shipping_address=True,
        tags_field=f"custom:{fields.tags}" if fields.tags else None,
        can_unarchive=True,
        birthday=fields.birthday is not None,
        email_consent=fields.email_opt_in is not None,
    )


# --- reading ----------------------------------------------------------------------------------------


def customer_from_record(record: Any, fields: CustomFields) -> PosCustomer:
    """One Heartland customer record (with embedded addresses where given) as a `PosCustomer`."""
    if not isinstance(record, Mapping):
        raise RecordError("customer", f"is {type(record).__name__}, not an object")
    pos_id = record_id(record, "id")
    active = record.get("active")
    if not isinstance(active, bool):
        raise RecordError("active", "is missing" if active is None else f"is {type(active).__name__}, not a boolean")
    created_at = timestamp(record.get("created_at"), "created_at")
    updated_at = timestamp(record.get("updated_at"), "updated_at")
    deleted_at = timestamp(record.get("deleted_at"), "deleted_at")
    status = PosStatus.DELETED if deleted_at else PosStatus.ACTIVE if active else PosStatus.ARCHIVED

    main = _embedded_address(record, "address")
    billing = _linked_address(record, "billing_address", main)
    shipping = _linked_address(record, "shipping_address", main)
    custom = record.get("custom")
    if custom is None:
        custom = {}
    if not isinstance(custom, Mapping):
        raise RecordError("custom", f"is {type(custom).__name__}, not an object")

    phone = _text(record, CUSTOMER_PHONE_FIELD, "") if CUSTOMER_PHONE_FIELD else None
    for obj in (main, billing):
        if not phone and obj is not None:
            phone = _text(obj, ADDRESS_PHONE_FIELD, "address.")

    def consent(key: str | None) -> Consent | None:
        flag = parse_opt_in(custom.get(key)) if key else None
        return None if flag is None else Consent.from_flag(flag, updated_at=updated_at)

    customer = Customer(
        first_name=_text(record, "first_name", ""),
        last_name=_text(record, "last_name", ""),
        email=_text(record, "email", ""),
        phone=phone,
        birthday=parse_birthday(custom.get(fields.birthday)) if fields.birthday else None,
        billing_address=address_from_json(billing, "billing_address"),
        shipping_address=address_from_json(shipping, "shipping_address"),
        email_consent=consent(fields.email_opt_in),
        sms_consent=consent(fields.sms_opt_in),
        tags=parse_tags(custom.get(fields.tags)) if fields.tags else Tags(),
    )
    return PosCustomer(pos_id=pos_id, status=status, customer=customer, created_at=created_at, updated_at=updated_at)


def _embedded_address(record: Mapping[str, Any], key: str) -> Mapping[str, Any] | None:
    value = record.get(key)
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise RecordError(key, f"is {type(value).__name__}, not an object")
    return value


def _linked_address(
    record: Mapping[str, Any], key: str, main: Mapping[str, Any] | None
) -> Mapping[str, Any] | None:
    """`billing_address` / `shipping_address` embedded via `_include[]`, else the main `address` if the
    link id says it is the same record (billing also when it has no link of its own)."""
    embedded = _embedded_address(record, key)
    if embedded is not None:
        return embedded
    link = optional_id(record.get(f"{key}_id"), f"{key}_id")
    if main is None:
        return None
    main_id = optional_id(main.get("id"), "address.id")
    if link is not None and link == main_id:
        return main
    if link is None and key == "billing_address":
        return main
    return None


def address_from_json(obj: Mapping[str, Any] | None, where: str) -> Address | None:
    if obj is None:
        return None
    values = {canon: _text(obj, key, f"{where}.") for canon, key in ADDRESS_KEYS.items()}
    address = Address(**values)
    return None if address.is_empty() else address


def _text(obj: Mapping[str, Any], key: str, prefix: str) -> str | None:
    """A string field; blank means "no value". Numbers are a contract break, not a value."""
    value = obj.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise RecordError(prefix + key, f"is {type(value).__name__}, not a string")
    value = value.strip()
    return value or None


def record_id(obj: Mapping[str, Any], key: str) -> str:
    value = optional_id(obj.get(key), key)
    if value is None:
        raise RecordError(key, "is missing")
    return value


def optional_id(value: Any, key: str) -> str | None:
    """Heartland ids are integers; a digit string is tolerated (some proxies stringify)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise RecordError(key, f"is {type(value).__name__}, not an integer id")
    text = str(value)
    if not text.isdigit():
        raise RecordError(key, "is not an integer id")
    return text


def timestamp(value: Any, key: str) -> datetime | None:
    """ISO-8601 with offset (or `Z`); a naive stamp is taken as UTC."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise RecordError(key, f"is {type(value).__name__}, not a timestamp string")
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise RecordError(key, "is not an ISO-8601 timestamp") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def parse_opt_in(value: Any) -> bool | None:
    """A merchant custom field read as an opt-in flag; None when empty or not recognisable."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return bool(value) if value in (0, 1) else None
    if isinstance(value, str):
        word = value.strip().lower()
        if word in _TRUE_WORDS:
            return True
        if word in _FALSE_WORDS:
            return False
    return None


def parse_birthday(value: Any) -> date | None:
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    try:
        return datetime.fromisoformat(text).date()
    except ValueError:
        pass
    for fmt in _BIRTHDAY_FORMATS:
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    return None


def parse_tags(value: Any) -> Tags:
    return Tags.parse(value)  # rule 50: case-insensitive, unlike a plain text field


# --- writing ----------------------------------------------------------------------------------------


def customer_body(customer: Customer, fields: CustomFields) -> dict[str, Any]:
    """The POST /customers body: standard fields plus mapped custom fields; empty values left out."""
    body: dict[str, Any] = {
        "first_name": customer.first_name,
        "last_name": customer.last_name,
        "email": customer.email,
    }
    if CUSTOMER_PHONE_FIELD:
        body[CUSTOMER_PHONE_FIELD] = customer.phone
    body = {k: v for k, v in body.items() if v not in (None, "")}
    custom = {
        key: value
        for key, value in custom_values(customer_changes(customer), fields).items()
        if value not in (None, "")
    }
    if custom:
        body["custom"] = custom
    return body


def customer_changes(customer: Customer) -> dict[str, Any]:
    return {name: getattr(customer, name) for name in Customer.SYNCED_FIELDS}


def custom_values(changes: Mapping[str, Any], fields: CustomFields) -> dict[str, Any]:
    """Custom-field key -> value for the mapped canonical fields among `changes` (None blanks it)."""
    out: dict[str, Any] = {}
    if fields.birthday and "birthday" in changes:
        birthday = changes["birthday"]
        out[fields.birthday] = birthday.isoformat() if birthday else None
    if fields.email_opt_in and "email_consent" in changes:
        out[fields.email_opt_in] = opt_in_value(changes["email_consent"])
    if fields.sms_opt_in and "sms_consent" in changes:
        out[fields.sms_opt_in] = opt_in_value(changes["sms_consent"])
    if fields.tags and "tags" in changes:
        out[fields.tags] = Tags(changes["tags"] or ()).text()
    return out


def opt_in_value(consent: Consent | None) -> Any:
    if consent is None:
        return None
    return OPT_IN_TRUE if consent.state.allows_marketing else OPT_IN_FALSE


def address_body(
    address: Address, first_name: str | None, last_name: str | None, phone: str | None
) -> dict[str, Any]:
    """A POST /customers/{id}/addresses body (names repeated on the address, as the vendor's UI does)."""
    body: dict[str, Any] = {"first_name": first_name, "last_name": last_name}
    body |= {key: getattr(address, canon) for canon, key in ADDRESS_KEYS.items()}
    if phone:
        body[ADDRESS_PHONE_FIELD] = phone
    return body


def create_problems(customer: Customer) -> list[str]:
    """What Heartland refuses a new customer for (rule 22): `email`, then each missing part of the billing
    address (required) and of the shipping address (when given). Stable names for the job record."""
    problems = [] if email_key(customer.email) else ["email"]
    problems += address_missing_fields(customer.billing_address or Address(), "billing_address")
    if customer.shipping_address is not None and not customer.shipping_address.is_empty():
        problems += address_missing_fields(customer.shipping_address, "shipping_address")
    return problems


_ADDRESS_LABELS = {
    "address1": "street address",
    "city": "city",
    "province_code": "state/province",
    "zip": "postal code",
    "country_code": "country",
}


def describe_problems(problems: list[str]) -> str:
    """A reason a merchant can act on, e.g. "... missing: email, billing address city"."""
    parts = [
        "email" if p == "email"
        else f"{p.split('.', 1)[0].replace('_', ' ')} {_ADDRESS_LABELS.get(p.split('.', 1)[-1], p)}"
        for p in problems
    ]
    return (
        "Heartland needs an email and a complete address to create a customer; missing: "
        + ", ".join(parts)
        + ". Add them to the customer in Shopify and the sync is retried."
    )


def address_missing_fields(address: Address, where: str) -> list[str]:
    """Rule 22 before any request: the canonical fields a complete address lacks, prefixed by `where`."""
    return [f"{where}.{name}" for name in address.missing_fields()]


_DIGITS = re.compile(r"\D")


def phone_variants(phone: str) -> list[str]:
    """Spellings a store may have typed for one number, for a one-request `$in` search.

    Heartland compares stored text (gotcha 24); the index in possync does the real matching, this only
    widens what the vendor search can confirm.
    """
    typed = phone.strip()
    digits = _DIGITS.sub("", typed)
    if not digits:
        return []
    out = [typed, digits, "+" + digits]
    national = digits[1:] if len(digits) == 11 and digits.startswith("1") else digits
    if len(national) == 10:
        a, b, c = national[:3], national[3:6], national[6:]
        out += [
            national,
            "1" + national,
            "+1" + national,
            f"({a}) {b}-{c}",
            f"({a}){b}-{c}",
            f"{a}-{b}-{c}",
            f"{a}.{b}.{c}",
            f"{a} {b} {c}",
            f"+1 {a}-{b}-{c}",
            f"+1 ({a}) {b}-{c}",
        ]
    unique: list[str] = []
    for value in out:
        if value not in unique:
            unique.append(value)
    return unique


def email_variants(email: str) -> list[str]:
    """As given and lower-cased: one live client retries lower-cased, as case-sensitivity is unknown [C]."""
    typed = email.strip()
    if not typed:
        return []
    return list(dict.fromkeys([typed, typed.lower()]))
