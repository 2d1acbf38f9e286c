"""The R-Series fake's records: applying vendor write bodies and rendering the vendor's JSON quirks.

Records are held with Python types (ints, bools, lists) and rendered the way the vendor answers
(pos-apis.md §1.3 and Gotchas 1-3): every scalar a string, booleans `"true"`/`"false"`, `"0"` for no
foreign key, one element a bare object and several an array, an empty collection `""`, `dob` absent
when unset, relations only when asked for.

Searches: each text field a LIKE query asks for gets a `TextIndex`, built on first use and kept in step
by `create`/`update` (the only writes), so a search is one regex pass over one string rather than a
Python call per customer: a real vendor's search is indexed, and the scan was a third of the fake's CPU
in the throughput benchmark. Records are kept in id order, so listing them needs no sort per request.
"""

from __future__ import annotations

import itertools
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

SCALAR_FIELDS = ("firstName", "lastName", "title", "company", "companyRegistrationNumber", "vatNumber")
FOREIGN_KEYS = ("creditAccountID", "customerTypeID", "discountID", "taxCategoryID")
ADDRESS_FIELDS = ("address1", "address2", "city", "state", "stateCode", "zip", "country", "countryCode")
EMAIL_TYPES = ("Primary", "Secondary")
PHONE_TYPES = ("Home", "Work", "Mobile", "Pager", "Fax")
# (body key, element key, internal list, id key, value fields, allowed useTypes or None)
COLLECTIONS = (
    ("Emails", "ContactEmail", "emails", "contactEmailID", ("address",), EMAIL_TYPES),
    ("Phones", "ContactPhone", "phones", "contactPhoneID", ("number",), PHONE_TYPES),
    ("Addresses", "ContactAddress", "addresses", "contactAddressID", ADDRESS_FIELDS, None),
    ("Websites", "ContactWebsite", "websites", "contactWebsiteID", ("url",), None),
)
TAGS_ELEMENT = "tag"  # [U] same guess as the adapter's mapping.TAGS_ELEMENT
INDEX_SEP = "\x00"  # between a customer's id and one of its values on a `TextIndex` line
# [U] Whether a Contact-only edit moves Customer.timeStamp is undocumented (pos-apis.md §1.5). The fake
# says yes, as an edit through PUT Customer/{id}.json; set False to test a client against the other case.
CONTACT_EDIT_BUMPS_CUSTOMER = True


class FakeRequestError(Exception):
    """A request the vendor would refuse with a 4xx; `status` and a vendor-style message."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


def iso(stamp: int) -> str:
    return datetime.fromtimestamp(stamp, UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00")


def parse_time(value: Any, field: str) -> int:
    """An ISO-8601 timestamp (or epoch seconds) as epoch seconds."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return int(value)
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError:
        raise FakeRequestError(f"{field}: invalid date/time {value!r}") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return int(parsed.timestamp())


def _text(value: Any, field: str) -> str:
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise FakeRequestError(f"{field}: expected a string")
    return str(value)


def _flag(value: Any, field: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.lower() in ("true", "false", "1", "0"):
        return value.lower() in ("true", "1")
    raise FakeRequestError(f"{field}: expected a boolean")


def _fk(value: Any, field: str) -> int:
    try:
        number = int(str(value or 0))
    except ValueError:
        raise FakeRequestError(f"{field}: expected an integer id") from None
    if number < 0:
        raise FakeRequestError(f"{field}: expected an integer id")
    return number


def one_or_many(items: list[Any]) -> Any:
    """The vendor's collection shape: `""` for none, the bare element for one, a list for several."""
    if not items:
        return ""
    return items[0] if len(items) == 1 else items


def _elements(value: Any, collection: str, element: str) -> list[dict[str, Any]]:
    if value in ("", None, [], {}):
        return []
    if not isinstance(value, dict):
        raise FakeRequestError(f"Contact.{collection}: expected an object with {element}")
    items = value.get(element, [])
    if items in ("", None):
        return []
    items = items if isinstance(items, list) else [items]
    if not all(isinstance(item, dict) for item in items):
        raise FakeRequestError(f"Contact.{collection}.{element}: expected objects")
    return items


class TextIndex:
    """One text field of every customer as `<id>\\x00<value>\\n` lines, one line per value.

    `matching` runs a regex over all lines at once; the regex starts at the separator and never crosses
    a newline (`fake_query.like_line`), so it matches one value, and the id is the start of its line. A
    customer with a value holding a newline or the separator would break that, so it is kept out of the
    text and listed in `irregular` instead, for the caller's per-record check.
    """

    def __init__(self, values: Callable[[Mapping[str, Any]], Iterable[Any]]) -> None:
        self.values = values
        self.lines: dict[int, str] = {}  # id -> its lines ("" for no value)
        self.irregular: set[int] = set()
        self._text: str | None = None  # all lines joined; None when a write changed them

    def put(self, record: Mapping[str, Any]) -> None:
        customer_id = record["customerID"]
        values = [str(v) for v in self.values(record)]
        self._text = None
        if any("\n" in v or INDEX_SEP in v for v in values):
            self.lines.pop(customer_id, None)
            self.irregular.add(customer_id)
        else:
            self.irregular.discard(customer_id)
            self.lines[customer_id] = "".join(f"{customer_id}{INDEX_SEP}{v}\n" for v in values)

    def matching(self, line: re.Pattern[str]) -> set[int]:
        """Ids (irregular ones aside) with a value `line` matches."""
        if self._text is None:
            self._text = "".join(self.lines.values())
        text = self._text
        return {int(text[text.rfind("\n", 0, m.start()) + 1 : m.start()]) for m in line.finditer(text)}


class CustomerStore:
    """All customers of one fake account, thread-safe (the fake serves requests on threads)."""

    def __init__(self, clock: Callable[[], float] = time.time, store_utc_offset_hours: float = 0.0) -> None:
        self.clock = clock
        self.clock_offset = 0.0
        self.store_tz = timezone(timedelta(hours=store_utc_offset_hours))
        self.customers: dict[int, dict[str, Any]] = {}  # in id order once `all()` has run
        self.indexes: dict[str, TextIndex] = {}
        self.lock = threading.RLock()
        self._customer_ids = itertools.count(1)
        self._contact_ids = itertools.count(1)
        self._entry_ids = itertools.count(1)
        self._in_id_order = True  # False after an explicit customer_id below the highest one

    def now(self) -> int:
        return int(self.clock() + self.clock_offset)

    # --- writes ------------------------------------------------------------------------------
    def create(self, body: Mapping[str, Any], *, customer_id: int | None = None, stamp: int | None = None,
               created: int | None = None) -> dict[str, Any]:
        with self.lock:
            now = self.now()
            if customer_id is None:
                customer_id = next(self._customer_ids)
                while customer_id in self.customers:
                    customer_id = next(self._customer_ids)
            elif customer_id in self.customers:
                raise FakeRequestError(f"customerID {customer_id} exists")
            record: dict[str, Any] = {
                "customerID": customer_id,
                **dict.fromkeys(SCALAR_FIELDS, ""),
                **dict.fromkeys(FOREIGN_KEYS, 0),
                "dob": None,
                "archived": False,
                "createTime": now if created is None else created,
                "timeStamp": now,
                "contact": {
                    "contactID": next(self._contact_ids),
                    "custom": "",
                    "noEmail": False,
                    "noPhone": False,
                    "noMail": False,
                    "emails": [],
                    "phones": [],
                    "addresses": [],
                    "websites": [],
                    "timeStamp": now,
                },
                "tags": [],
            }
            self._apply(record, body, now)
            if stamp is not None:
                record["timeStamp"] = record["contact"]["timeStamp"] = stamp
            if self.customers and customer_id < next(reversed(self.customers)):
                self._in_id_order = False
            self.customers[customer_id] = record
            self._reindex(record)
            return record

    def update(self, customer_id: int, body: Mapping[str, Any], *, stamp: int | None = None) -> dict[str, Any]:
        with self.lock:
            record = self.get(customer_id)
            if record is None:
                raise FakeRequestError("Customer not found.", 404)
            self._apply(record, body, self.now() if stamp is None else stamp)
            self._reindex(record)
            return record

    def archive(self, customer_id: int) -> dict[str, Any]:
        return self.update(customer_id, {"archived": True})

    def get(self, customer_id: int) -> dict[str, Any] | None:
        with self.lock:
            return self.customers.get(customer_id)

    def all(self) -> list[dict[str, Any]]:
        """Every customer in id order: new ids count up, so only an explicit lower id calls for a sort."""
        with self.lock:
            if not self._in_id_order:
                self.customers = dict(sorted(self.customers.items()))
                self._in_id_order = True
            return list(self.customers.values())

    def text_index(self, name: str, values: Callable[[Mapping[str, Any]], Iterable[Any]]) -> TextIndex:
        """The index of the field `name` (whose values `values` gives), built from every record on first use."""
        with self.lock:
            index = self.indexes.get(name)
            if index is None:
                index = self.indexes[name] = TextIndex(values)
                for record in self.customers.values():
                    index.put(record)
            return index

    def _reindex(self, record: Mapping[str, Any]) -> None:
        """After every write (create, update): the indexes follow the record."""
        for index in self.indexes.values():
            index.put(record)

    def _apply(self, record: dict[str, Any], body: Mapping[str, Any], now: int) -> None:
        """Validate first, then change: a refused write leaves the record as it was."""
        if not isinstance(body, Mapping):
            raise FakeRequestError("expected a JSON object")
        changes: dict[str, Any] = {}
        for key in SCALAR_FIELDS:
            if key in body:
                changes[key] = _text(body[key], key)
        for key in FOREIGN_KEYS:
            if key in body:
                changes[key] = _fk(body[key], key)
        if "dob" in body:
            changes["dob"] = self._dob(body["dob"])
        if "archived" in body:
            changes["archived"] = _flag(body["archived"], "archived")
        contact = None
        if "Contact" in body and body["Contact"] not in ("", None):
            contact = self._contact_changes(record["contact"], body["Contact"])
        tags = self._tags(body["Tags"]) if "Tags" in body else None

        record.update(changes)
        if tags is not None:
            record["tags"] = tags
        if contact:
            record["contact"].update(contact)
            record["contact"]["timeStamp"] = now
        if changes or tags is not None or (contact and CONTACT_EDIT_BUMPS_CUSTOMER):
            record["timeStamp"] = now

    def _dob(self, value: Any) -> str | None:
        """`dob` is a calendar day kept as the store's local midnight, shown in UTC (the docs' example
        `2021-01-01T08:00:00+00:00` is a store at UTC-8)."""
        if value in (None, ""):
            return None
        text = _text(value, "dob")
        try:
            day = date.fromisoformat(text[:10])
            if len(text) > 10:
                datetime.fromisoformat(text)
        except ValueError:
            raise FakeRequestError(f"dob: invalid date {text!r}") from None
        local_midnight = datetime(day.year, day.month, day.day, tzinfo=self.store_tz)
        return local_midnight.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00")

    def _contact_changes(self, current: dict[str, Any], body: Any) -> dict[str, Any]:
        if not isinstance(body, Mapping):
            raise FakeRequestError("Contact: expected an object")
        changes: dict[str, Any] = {}
        for key in ("noEmail", "noPhone", "noMail"):
            if key in body:
                changes[key] = _flag(body[key], f"Contact.{key}")
        if "custom" in body:
            changes["custom"] = _text(body["custom"], "Contact.custom")
        for collection, element, internal, id_key, fields, types in COLLECTIONS:
            if collection not in body:
                continue
            existing = {e[id_key]: e for e in current[internal]}
            entries: list[dict[str, Any]] = []
            for item in _elements(body[collection], collection, element):
                entry: dict[str, Any] = {f: _text(item.get(f), f"{element}.{f}") for f in fields}
                if types is not None:
                    use = item.get("useType")
                    if use not in types:
                        raise FakeRequestError(f"{element}.useType must be one of {', '.join(types)}")
                    if any(e["useType"] == use for e in entries):
                        raise FakeRequestError(f"{element}: at most one of each useType ({use} twice)")
                    entry["useType"] = use
                raw_id = _fk(item.get(id_key), f"{element}.{id_key}")
                if raw_id and raw_id not in existing:
                    raise FakeRequestError(f"{element}.{id_key} {raw_id} does not belong to this contact")
                entry[id_key] = raw_id or next(self._entry_ids)
                entries.append(entry)
            changes[internal] = entries  # [U] a collection in a PUT replaces the stored one
        return changes

    def _tags(self, value: Any) -> list[str]:
        if value in ("", None, [], {}):
            return []
        if not isinstance(value, Mapping):
            raise FakeRequestError(f"Tags: expected an object with {TAGS_ELEMENT}")
        items = value.get(TAGS_ELEMENT, [])
        items = items if isinstance(items, list) else [items]
        tags: list[str] = []
        for item in items:
            text = _text(item, f"Tags.{TAGS_ELEMENT}").strip()
            if text and text.lower() not in (t.lower() for t in tags):
                tags.append(text)
        return tags

    # --- rendering ---------------------------------------------------------------------------
    def render(self, record: Mapping[str, Any], relations: Iterable[str] = ()) -> dict[str, Any]:
        relations = set(relations)
        out: dict[str, Any] = {"customerID": str(record["customerID"])}
        for key in SCALAR_FIELDS:
            out[key] = record[key]
        if record["dob"]:
            out["dob"] = record["dob"]
        out["archived"] = "true" if record["archived"] else "false"
        out["createTime"] = iso(record["createTime"])
        out["timeStamp"] = iso(record["timeStamp"])
        for key in FOREIGN_KEYS:
            out[key] = str(record[key])
        if "Contact" in relations:
            out["Contact"] = self._render_contact(record["contact"])
        if "Tags" in relations:
            tags = record["tags"]
            out["Tags"] = {"@attributes": {"count": str(len(tags))}, TAGS_ELEMENT: one_or_many(tags)} if tags else ""
        return out

    @staticmethod
    def _render_contact(contact: Mapping[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {
            "contactID": str(contact["contactID"]),
            "custom": contact["custom"],
            "noEmail": "true" if contact["noEmail"] else "false",
            "noPhone": "true" if contact["noPhone"] else "false",
            "noMail": "true" if contact["noMail"] else "false",
        }
        for collection, element, internal, _id_key, _fields, _types in COLLECTIONS:
            entries = [{k: str(v) for k, v in e.items()} for e in contact[internal]]
            out[collection] = {element: one_or_many(entries)} if entries else ""
        out["timeStamp"] = iso(contact["timeStamp"])
        return out


def seed_body(data: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """A seed record as (vendor write body, overrides: customer_id / stamp / created).

    Accepts the vendor's own shape (`firstName`, `Contact`, `customerID`, `timeStamp`, ...) or these
    minimal keys: `first_name`, `last_name`, `email`, `emails` (list), `phone`, `phones` (list of numbers
    or `{"number", "useType"}`; plain numbers take Home, Mobile, Work, ... in order), `birthday`
    (`YYYY-MM-DD`), `address` (vendor address keys), `no_email`, `no_phone`, `tags`, `archived`,
    `customer_id`, `time_stamp` and `create_time` (ISO-8601 or epoch seconds).
    """
    data = dict(data)
    overrides: dict[str, Any] = {}
    for key, target in (("customerID", "customer_id"), ("customer_id", "customer_id")):
        if key in data:
            overrides[target] = int(data.pop(key))
    for key, target in (("timeStamp", "stamp"), ("time_stamp", "stamp"), ("createTime", "created"),
                        ("create_time", "created")):
        if key in data:
            overrides[target] = parse_time(data.pop(key), key)
    minimal = {"first_name", "last_name", "email", "emails", "phone", "phones", "birthday", "address", "no_email",
               "no_phone", "tags"}
    if not minimal & set(data):
        return data, overrides
    body: dict[str, Any] = {k: v for k, v in data.items() if k not in minimal}
    if "first_name" in data:
        body["firstName"] = data["first_name"]
    if "last_name" in data:
        body["lastName"] = data["last_name"]
    if data.get("birthday"):
        body["dob"] = str(data["birthday"])
    contact: dict[str, Any] = {}
    emails = list(data.get("emails") or ([data["email"]] if data.get("email") else []))
    if emails:
        contact["Emails"] = {"ContactEmail": [{"address": a, "useType": EMAIL_TYPES[i]} for i, a in enumerate(emails)]}
    phones = list(data.get("phones") or ([data["phone"]] if data.get("phone") else []))
    if phones:
        order = ("Home", "Mobile", "Work", "Pager", "Fax")
        contact["Phones"] = {"ContactPhone": [
            p if isinstance(p, Mapping) else {"number": p, "useType": order[i]} for i, p in enumerate(phones)
        ]}
    if data.get("address"):
        contact["Addresses"] = {"ContactAddress": [dict(data["address"])]}
    if "no_email" in data:
        contact["noEmail"] = bool(data["no_email"])
    if "no_phone" in data:
        contact["noPhone"] = bool(data["no_phone"])
    if contact:
        body["Contact"] = contact
    if data.get("tags"):
        body["Tags"] = {TAGS_ELEMENT: list(data["tags"])}
    return body, overrides
