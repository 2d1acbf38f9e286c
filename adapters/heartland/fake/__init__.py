"""A contract-faithful fake of Heartland Retail's customer API (pos-apis.md section 3), quirks included.

Served over real HTTP by `FakeVendorServer`. What it copies from the vendor:
- `Authorization: Bearer <token>` on every call, 401 otherwise;
- `GET /api/customers` with `_filter` JSON (see `fake_query`), `sort[]`, `page`/`per_page` (default 20,
  at most 100 [U]) answering `{"total", "pages", "per_page", "results"}`;
- `POST /api/customers` -> **201 with an empty body**; the new id is only in
  `Location: {host}/api/customers/{id}` (gotcha 20); addresses likewise under `/customers/{id}/addresses`;
- `PUT /api/customers/{id}` partial update (link ids, `active`, `custom` merged key by key);
- addresses are their own records; the phone lives on the address; the customer embeds its main `address`
  always and `billing_address` / `shipping_address` when asked with `_include[]`;
- `active: false` archives; `deleted_at` marks a deleted record (still readable, still listed);
- 422 with `message` and per-field `errors` for a customer without a valid email and an address that is not
  complete (SPEC rule 22; the vendor's exact rules are unverified);
- timestamps with a UTC offset that is not zero (a store's local time) to catch string comparisons;
- a `Date` header on every response from the clock that stamps `updated_at`;
- a rate limit answering 429 with `Retry-After` in seconds.

Seeding (`seed(records)`) takes vendor-shaped records. It also accepts, for convenience: `phone` for
`phone_number` (copied onto the address when that has none); `address` / `billing_address` /
`shipping_address` as address objects, and `addresses` as a list the way `state()` shows it (link ids
renumbered), in vendor keys (`line_1`, `postal_code`, ...) or canonical ones (`address1`, `zip`,
`province_code`, `country_code`); given `created_at` / `updated_at` / `deleted_at` strings are kept as
they are. Seeding skips validation: real stores hold records the API would refuse now.
"""

from __future__ import annotations

import copy
import math
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from flask import Flask, Response, jsonify, request
from werkzeug.http import http_date

from possync.adapters.fakes.limits import WindowLimit
from possync.adapters.fakes.server import CONTROL_PREFIX, FakeVendorServer
from possync.adapters.heartland.fake.query import QueryError, matches, parse_filters, sort_records

API = "/api"
# [U] Heartland publishes no rate limits. The fake uses a fixed window (default 10 requests per second);
# the real numbers are unverified. `requests_per_window=None` switches it off for throughput tests.
DEFAULT_REQUESTS_PER_WINDOW = 10
DEFAULT_WINDOW_SECONDS = 1.0
DEFAULT_PER_PAGE = 20  # [C-official] the official client's default
MAX_PER_PAGE = 100  # [U]
# [U] Whether an address edit moves the customer's `updated_at` is unknown; assumed yes, or a phone edit
# (phones live on addresses) would be invisible to change polling.
ADDRESS_EDIT_TOUCHES_CUSTOMER = True
# [U] Validation the fake applies on create (SPEC rule 22); the vendor's own rules are not confirmed.
REQUIRED_ADDRESS_FIELDS = ("line_1", "city", "state", "postal_code", "country")
EMAIL_FORMAT = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")

CUSTOMER_WRITABLE = (
    "first_name",
    "last_name",
    "email",
    "phone_number",
    "public_id",
    "active",
    "custom",
    "address_id",
    "billing_address_id",
    "shipping_address_id",
)
ADDRESS_WRITABLE = ("first_name", "last_name", "line_1", "line_2", "city", "state", "postal_code", "country", "phone",
                    "custom")
_CANONICAL_ADDRESS = {"address1": "line_1", "address2": "line_2", "province_code": "state", "zip": "postal_code",
                      "country_code": "country"}
_LINKS = ("address_id", "billing_address_id", "shipping_address_id")
_INCLUDABLE = ("billing_address", "shipping_address")


class FakeServer(FakeVendorServer):
    vendor = "heartland"

    def __init__(
        self,
        *,
        api_token: str | None = None,
        requests_per_window: int | None = DEFAULT_REQUESTS_PER_WINDOW,
        window_seconds: float = DEFAULT_WINDOW_SECONDS,
        utc_offset_hours: float = -5.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """`api_token=None` accepts any bearer token; `requests_per_window=None` switches the limit off;
        `clock` stamps records and dates responses (tests move it by hand)."""
        self.api_token = api_token
        self.clock = clock
        self.limit: WindowLimit | None = (
            WindowLimit(requests_per_window, window_seconds) if requests_per_window is not None else None
        )
        self.tz = timezone(timedelta(hours=utc_offset_hours))
        self.customers: dict[int, dict[str, Any]] = {}
        self.addresses: dict[int, dict[int, dict[str, Any]]] = {}  # customer id -> address id -> address
        # [U] Whether list rows embed `address` and `custom` as a read by id does is unverified: keys named
        # here are left out of every list row, so tests can play the other answer.
        self.list_leaves_out: tuple[str, ...] = ()
        self._next_customer = 1
        self._next_address = 1
        self._last_stamp: datetime | None = None
        self._data_lock = threading.RLock()
        super().__init__()

    # --- rate limit --------------------------------------------------------------------------------
    def set_rate_limit(self, requests_per_window: int | None, window_seconds: float = DEFAULT_WINDOW_SECONDS) -> None:
        self.limit = WindowLimit(requests_per_window, window_seconds) if requests_per_window is not None else None

    def rate_limit_headers(self) -> dict[str, str]:
        """Not a rate limit: the `Date` every response carries, from the clock that stamps `updated_at`."""
        return {"Date": http_date(self.clock())}

    def check_rate_limit(self) -> Response | None:
        if self.limit is None:
            return None
        verdict = self.limit.take()
        if verdict.allowed:
            return None
        response = jsonify({"message": "Too many requests"})
        response.status_code = 429
        response.headers["Retry-After"] = str(max(1, math.ceil(verdict.retry_after)))
        return response

    def inject(
        self,
        status: int,
        *,
        count: int | None = 1,
        for_seconds: float | None = None,
        headers: dict[str, str] | None = None,
        body: Any = None,
    ) -> None:
        """As the base, but an injected 429 carries Heartland's `Retry-After` (1 s) unless told otherwise."""
        if status == 429:
            headers = {"Retry-After": "1", **(headers or {})}
        super().inject(status, count=count, for_seconds=for_seconds, headers=headers, body=body)

    # --- records, for tests ------------------------------------------------------------------------
    def now(self) -> str:
        """A strictly increasing timestamp in the store's local offset, millisecond precision."""
        with self._data_lock:
            stamp = datetime.fromtimestamp(self.clock(), UTC)
            stamp = stamp.replace(microsecond=stamp.microsecond // 1000 * 1000)  # the precision written out
            if self._last_stamp is not None and stamp <= self._last_stamp:
                stamp = self._last_stamp + timedelta(milliseconds=1)
            self._last_stamp = stamp
            return stamp.astimezone(self.tz).isoformat(timespec="milliseconds")

    def seed(self, records: Iterable[dict[str, Any]]) -> list[int]:
        ids = []
        with self._data_lock:
            for raw in records:
                ids.append(self._seed_one(dict(raw)))
        return ids

    def _seed_one(self, raw: dict[str, Any]) -> int:
        cid = int(raw.pop("id", 0) or 0) or self._take_customer_id()
        if cid in self.customers:
            raise ValueError(f"customer {cid} already exists in the fake")
        self._next_customer = max(self._next_customer, cid + 1)
        # A record seeded with its stamp (a bulk import's) takes no tick of the clock's strictly rising stamps.
        stamp = raw.get("updated_at") or raw.get("created_at") or self.now()
        if "phone" in raw:
            raw.setdefault("phone_number", raw.pop("phone"))
        shared = raw.pop("address", None)
        given = {k: raw.pop(k, None) for k in _INCLUDABLE}
        listed = raw.pop("addresses", None) or []  # as `state()` shows them: re-seeding a dump works
        record: dict[str, Any] = {
            "id": cid,
            "public_id": str(cid),
            "first_name": None,
            "last_name": None,
            "email": None,
            "phone_number": None,
            "active": True,
            "created_at": stamp,
            "updated_at": stamp,
            "deleted_at": None,
            "address_id": None,
            "billing_address_id": None,
            "shipping_address_id": None,
            "custom": {},
            "type": "Customer",
            "uuid": f"00000000-0000-4000-8000-{cid:012d}",
        }
        record.update(raw)
        self.customers[cid] = record
        self.addresses.setdefault(cid, {})
        renumbered = {}
        for item in listed:
            values = {k: v for k, v in item.items() if k not in ("id", "customer_id")}
            renumbered[item.get("id")] = self._add_address(cid, self._seed_address(values, record), stamp)
        for link in _LINKS:
            if record.get(link) in renumbered:
                record[link] = renumbered[record[link]]
        if shared is not None:
            aid = self._add_address(cid, self._seed_address(shared, record), stamp)
            record.update({link: aid for link in _LINKS})
        for kind, value in given.items():
            if value is not None:
                aid = self._add_address(cid, self._seed_address(value, record), stamp)
                record[f"{kind}_id"] = aid
                if record["address_id"] is None or (kind == "billing_address" and shared is None):
                    record["address_id"] = aid
        return cid

    @staticmethod
    def _seed_address(value: Mapping[str, Any], customer: Mapping[str, Any]) -> dict[str, Any]:
        address = {_CANONICAL_ADDRESS.get(k, k): v for k, v in value.items()}
        address.setdefault("first_name", customer.get("first_name"))
        address.setdefault("last_name", customer.get("last_name"))
        address.setdefault("phone", customer.get("phone_number"))
        return address

    def clear(self) -> None:
        """Forget every record and start ids at 1 again, so tests can share one running server."""
        with self._data_lock:
            self.customers.clear()
            self.addresses.clear()
            self._next_customer = self._next_address = 1
            self.list_leaves_out = ()
            self._last_stamp = None

    def state(self) -> dict[str, Any]:
        with self._data_lock:
            return {"customers": [self.record(cid) for cid in sorted(self.customers)]}

    def record(self, customer_id: int | str) -> dict[str, Any]:
        """The stored customer (not as rendered) with its addresses under `addresses`."""
        with self._data_lock:
            cid = int(customer_id)
            record = copy.deepcopy(self.customers[cid])
            record["addresses"] = [copy.deepcopy(a) for _, a in sorted(self.addresses.get(cid, {}).items())]
            return record

    @property
    def records(self) -> list[dict[str, Any]]:
        return self.state()["customers"]

    def address(self, customer_id: int | str, address_id: int | str) -> dict[str, Any]:
        with self._data_lock:
            return copy.deepcopy(self.addresses[int(customer_id)][int(address_id)])

    def edit(self, customer_id: int | str, **fields: Any) -> None:
        """A change made in the store (the back office), moving `updated_at` like any edit."""
        with self._data_lock:
            record = self.customers[int(customer_id)]
            record.update(fields)
            record["updated_at"] = self.now()

    def archive(self, customer_id: int | str) -> None:
        self.edit(customer_id, active=False)

    def unarchive(self, customer_id: int | str) -> None:
        self.edit(customer_id, active=True)

    def delete(self, customer_id: int | str) -> None:
        """Heartland has no DELETE in its API; a record deleted in the back office keeps `deleted_at` [U]."""
        stamp = self.now()
        self.edit(customer_id, active=False, deleted_at=stamp)

    # --- routes ------------------------------------------------------------------------------------
    def register_routes(self, app: Flask) -> None:
        app.before_request(self._authenticate)

        @app.errorhandler(404)
        def _not_found(_: Exception) -> Response:
            return _error(404, "Not found")

        @app.errorhandler(405)
        def _not_allowed(_: Exception) -> Response:
            return _error(405, "Method not allowed")

        app.add_url_rule(f"{API}/customers", "list_customers", self._list_customers, methods=["GET"])
        app.add_url_rule(f"{API}/customers", "create_customer", self._create_customer, methods=["POST"])
        app.add_url_rule(f"{API}/customers/<int:cid>", "get_customer", self._get_customer, methods=["GET"])
        app.add_url_rule(f"{API}/customers/<int:cid>", "update_customer", self._update_customer, methods=["PUT"])
        app.add_url_rule(f"{API}/customers/<int:cid>/addresses", "list_addresses", self._list_addresses,
                         methods=["GET"])
        app.add_url_rule(f"{API}/customers/<int:cid>/addresses", "create_address", self._create_address,
                         methods=["POST"])
        app.add_url_rule(f"{API}/customers/<int:cid>/addresses/<int:aid>", "get_address", self._get_address,
                         methods=["GET"])
        app.add_url_rule(f"{API}/customers/<int:cid>/addresses/<int:aid>", "update_address", self._update_address,
                         methods=["PUT"])

    def _authenticate(self) -> Response | None:
        if request.path.startswith(CONTROL_PREFIX):
            return None
        auth = request.headers.get("Authorization", "")
        scheme, _, token = auth.partition(" ")
        if scheme != "Bearer" or not token.strip():
            return _error(401, "Unauthorized")
        if self.api_token is not None and token.strip() != self.api_token:
            return _error(401, "Unauthorized")
        return None

    def _list_customers(self) -> Response:
        try:
            filters = parse_filters(request.args.getlist("_filter") + request.args.getlist("_filter[]"))
            page, per_page = _paging()
            with self._data_lock:
                rows = [r for r in self.customers.values() if all(matches(r, f) for f in filters)]
                rows = sort_records(rows, request.args.getlist("sort[]"))
                include = _includes()
                total = len(rows)
                chunk = rows[(page - 1) * per_page : page * per_page]
                results = [{k: v for k, v in self._render(r, include).items() if k not in self.list_leaves_out}
                           for r in chunk]
        except QueryError as exc:
            return _error(400, str(exc))
        pages = math.ceil(total / per_page)
        return jsonify({"total": total, "pages": pages, "per_page": per_page, "results": results})

    def _get_customer(self, cid: int) -> Response:
        with self._data_lock:
            record = self.customers.get(cid)
            if record is None:
                return _error(404, "Not found")
            return jsonify(self._render(record, _includes()))

    def _create_customer(self) -> Response:
        body = _json_object()
        if isinstance(body, Response):
            return body
        errors = _email_errors(body.get("email"), required=True) | _type_errors(body)
        if errors:
            return _validation(errors)
        with self._data_lock:
            cid = self._seed_one({k: body[k] for k in CUSTOMER_WRITABLE if k in body and k not in _LINKS})
        return _created(f"{API}/customers/{cid}")

    def _update_customer(self, cid: int) -> Response:
        body = _json_object()
        if isinstance(body, Response):
            return body
        with self._data_lock:
            record = self.customers.get(cid)
            if record is None:
                return _error(404, "Not found")
            self._note_if_archived(cid)
            errors = _type_errors(body)
            if "email" in body:
                errors |= _email_errors(body["email"], required=False)
            for link in _LINKS:
                value = body.get(link)
                if value is not None and (not isinstance(value, int) or value not in self.addresses[cid]):
                    errors[link] = ["is not an address of this customer"]
            if errors:
                return _validation(errors)
            changed = False
            for key in CUSTOMER_WRITABLE:
                if key not in body:
                    continue
                value = {**record["custom"], **body[key]} if key == "custom" else body[key]
                if record.get(key) != value:
                    record[key] = value
                    changed = True
            if changed:
                record["updated_at"] = self.now()
            return jsonify(self._render(record, _includes()))

    def _list_addresses(self, cid: int) -> Response:
        with self._data_lock:
            if cid not in self.customers:
                return _error(404, "Not found")
            rows = [copy.deepcopy(a) for _, a in sorted(self.addresses[cid].items())]
        page, per_page = _paging()
        chunk = rows[(page - 1) * per_page : page * per_page]
        return jsonify({"total": len(rows), "pages": math.ceil(len(rows) / per_page), "per_page": per_page,
                        "results": chunk})

    def _get_address(self, cid: int, aid: int) -> Response:
        with self._data_lock:
            address = self.addresses.get(cid, {}).get(aid)
            if address is None:
                return _error(404, "Not found")
            return jsonify(address)

    def _create_address(self, cid: int) -> Response:
        body = _json_object()
        if isinstance(body, Response):
            return body
        with self._data_lock:
            if cid not in self.customers:
                return _error(404, "Not found")
            self._note_if_archived(cid)
            values = {k: body.get(k) for k in ADDRESS_WRITABLE if k in body}
            errors = _address_errors(values)
            if errors:
                return _validation(errors)
            stamp = self.now()
            aid = self._add_address(cid, values, stamp)
            if ADDRESS_EDIT_TOUCHES_CUSTOMER:
                self.customers[cid]["updated_at"] = stamp
        return _created(f"{API}/customers/{cid}/addresses/{aid}")

    def _update_address(self, cid: int, aid: int) -> Response:
        body = _json_object()
        if isinstance(body, Response):
            return body
        with self._data_lock:
            address = self.addresses.get(cid, {}).get(aid)
            if address is None:
                return _error(404, "Not found")
            self._note_if_archived(cid)
            merged = {**address, **{k: body[k] for k in ADDRESS_WRITABLE if k in body}}
            errors = _address_errors(merged)
            if errors:
                return _validation(errors)
            if merged != address:
                stamp = self.now()
                merged["updated_at"] = stamp
                address.update(merged)
                if ADDRESS_EDIT_TOUCHES_CUSTOMER:
                    self.customers[cid]["updated_at"] = stamp
            return jsonify(copy.deepcopy(address))

    # --- internals ---------------------------------------------------------------------------------
    def _note_if_archived(self, cid: int) -> None:
        if not self.customers[cid]["active"]:
            self.note_write_to_archived()

    def _take_customer_id(self) -> int:
        cid = self._next_customer
        self._next_customer += 1
        return cid

    def _add_address(self, cid: int, values: dict[str, Any], stamp: str) -> int:
        aid = self._next_address
        self._next_address += 1
        address = {"id": aid, "customer_id": cid, "line_2": None, "phone": None, "custom": {}, **values}
        address.setdefault("created_at", stamp)
        address.setdefault("updated_at", stamp)
        self.addresses[cid][aid] = address
        return aid

    def _render(self, record: Mapping[str, Any], include: Iterable[str]) -> dict[str, Any]:
        """The customer as the API shows it: `name` derived, main `address` embedded, more on request."""
        out = copy.deepcopy(dict(record))
        cid = record["id"]
        names = [n for n in (record.get("first_name"), record.get("last_name")) if n]
        out["name"] = " ".join(names)
        own = self.addresses.get(cid, {})

        def embed(link: str) -> dict[str, Any] | None:
            aid = record.get(link)
            return copy.deepcopy(own[aid]) if aid in own else None

        out["address"] = embed("address_id")
        for rel in include:
            if rel in _INCLUDABLE:
                out[rel] = embed(f"{rel}_id")
        return out


# --- request helpers --------------------------------------------------------------------------------


def _error(status: int, message: str) -> Response:
    response = jsonify({"message": message})
    response.status_code = status
    return response


def _validation(errors: dict[str, list[str]]) -> Response:
    sentences = [f"{field.replace('_', ' ').capitalize()} {msg}" for field, msgs in errors.items() for msg in msgs]
    response = jsonify({"message": "Validation failed: " + ", ".join(sentences), "errors": errors})
    response.status_code = 422
    return response


def _created(path: str) -> Response:
    """201, an empty body and the new record's URL in `Location` (gotcha 20)."""
    response = Response(b"", status=201)
    response.headers["Location"] = request.host_url.rstrip("/") + path
    return response


def _json_object() -> dict[str, Any] | Response:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return _error(400, "The request body must be a JSON object")
    return body


def _paging() -> tuple[int, int]:
    try:
        page = int(request.args.get("page", 1))
        per_page = int(request.args.get("per_page", DEFAULT_PER_PAGE))
    except ValueError:
        raise QueryError("page and per_page must be integers") from None
    if page < 1 or per_page < 1:
        raise QueryError("page and per_page must be at least 1")
    return page, min(per_page, MAX_PER_PAGE)


def _includes() -> list[str]:
    return request.args.getlist("_include[]") + request.args.getlist("_include")


def _email_errors(value: Any, *, required: bool) -> dict[str, list[str]]:
    if value is None or (isinstance(value, str) and not value.strip()):
        return {"email": ["can't be blank"]} if required else {}
    if not isinstance(value, str) or not EMAIL_FORMAT.match(value.strip()):
        return {"email": ["is invalid"]}
    return {}


def _type_errors(body: Mapping[str, Any]) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    for key in ("first_name", "last_name", "phone_number", "public_id"):
        if body.get(key) is not None and not isinstance(body[key], str):
            errors[key] = ["must be a string"]
    if "active" in body and not isinstance(body["active"], bool):
        errors["active"] = ["must be true or false"]
    if "custom" in body and not isinstance(body["custom"], dict):
        errors["custom"] = ["must be an object"]
    return errors


def _address_errors(values: Mapping[str, Any]) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    for key in REQUIRED_ADDRESS_FIELDS:
        value = values.get(key)
        if not isinstance(value, str) or not value.strip():
            errors[key] = ["can't be blank"]
    country = values.get("country")
    if isinstance(country, str) and country.strip() and not re.fullmatch(r"[A-Z]{2}", country.strip()):
        errors["country"] = ["must be a 2-letter country code"]
    return errors
