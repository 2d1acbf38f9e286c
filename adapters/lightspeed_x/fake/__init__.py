"""A contract-faithful fake of the Lightspeed Retail X-Series customer API (2.0), quirks included.

What it copies from the vendor (reference pos-apis.md section 2 and the 2026-07 OpenAPI):
- `GET /api/{v}/customers?after=&before=&page_size=&deleted=` -> `{"data": [...], "version": {"min", "max"}}`
  ordered by `version`, both bounds exclusive, `null` min/max on an empty page, deleted customers only
  with `deleted=true`;
- `GET /customers/{id}` -> `{"data": {...}}`; `POST /customers` (body unwrapped) -> **201**
  `{"data": {...}}`; `PUT /customers/{id}` partial update -> 200; `DELETE` -> **204**, a soft delete
  that sets `deleted_at`;
- one global `version` counter that only goes up, by arbitrary gaps, on every write;
- null fields are left out of responses, except `first_name` / `last_name` (required keys that real
  records hold as null, e.g. customer `UNNAMED-669D`);
- `customer_code` generated when absent (`Tony-N4ZJ`, `UNNAMED-669D`) and unique;
- `GET /search?type=customers&email=|phone=|mobile=|customer_code=|...` exact match on stored text,
  offset + page_size paging (page_size capped at 1000), `deleted=true`, `_id` / `-_id`, `order_by`;
- `POST /api/1.0/token` (form fields) with refresh-token rotation: the old refresh token is revoked;
- Bearer auth (401 for unknown tokens), a fixed window per retailer and app (`WindowLimit`, 350 per
  300 s by default) answering 429 `{"error": "Too Many Requests", "message": "Rate limiting enforced"}`
  with `Retry-After` as an **HTTP date** and `X-RateLimit-Limit/Remaining/Reset` on every response
  (the reference documents `Reset` as epoch seconds on the token endpoint; on API responses its form
  is unverified, so `reset_form` sends it as epoch seconds (the default), as seconds left, or not at all);
- `POST/GET /webhooks` (409 for the same type and URL twice) and `send_webhook()` posting a
  form-encoded `payload` in the API **1.0** customer shape, unsigned.

`seed()` takes vendor-shaped records, plus these convenience keys: `birthday`, `email_opt_in`,
`sms_opt_in`, `tags` (list), `billing_address` / `shipping_address` (canonical `Address` keys) and
`deleted` (bool).
"""

from __future__ import annotations

import email.utils
import json
import math
import random
import re
import string
import time
import uuid
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime
from typing import Any

import requests
from flask import Flask, Response, jsonify, request

from possync.adapters.fakes.limits import WindowLimit
from possync.adapters.fakes.server import FakeVendorServer

# --- facts about the vendor, one line each ---------------------------------------------------------
DEFAULT_RATE_LIMIT = 350  # 300 x registers + 50, one register [D]
DEFAULT_WINDOW_SECONDS = 300.0  # fixed 5-minute window [D]
DEFAULT_PAGE_SIZE = 1000  # list default when page_size is not sent [U]
MAX_PAGE_SIZE = 5000  # 2.0 reportedly accepts about 5000 [U]
MAX_SEARCH_PAGE_SIZE = 1000  # [S]
FIRST_VERSION = 2_691_964_626  # versions are large global numbers [S example]
EMAIL_SEARCH_CASE_SENSITIVE = True  # undocumented; exact stored-text match assumed [U]
CREATE_REQUIRES_NAME_KEYS = True  # first_name / last_name are required keys in CustomerBase [S]
UPDATE_REQUIRES_NAME_KEYS = False  # the spec says required on PUT too; partial PUTs are assumed to work [U]
GET_SHOWS_DELETED = True  # GET /customers/{id} of a deleted customer answers it with deleted_at [U]
REVOKE_OLD_REFRESH_TOKEN = True  # since 2025-03 [D]
TOKEN_LIFETIME_SECONDS = 7 * 86400  # examples range from 1 to 7 days [D]
API_VERSIONS = re.compile(r"^(2\.0|2\.1|3\.0|\d{4}-\d{2})$")
RATE_LIMIT_BODY = {"error": "Too Many Requests", "message": "Rate limiting enforced"}
DEFAULT_GROUP_ID = "b1ca8902-f019-11e3-a0f5-b8ca3a64f8f4"  # every retailer has "All Customers"
PERSONAL_APP = "personal-token"

STRING_FIELDS = (
    "first_name", "last_name", "company_name", "customer_code", "customer_group_id", "email", "phone",
    "mobile", "fax", "date_of_birth", "gender", "note", "twitter", "website", "tax_id",
    "custom_field_1", "custom_field_2", "custom_field_3", "custom_field_4",
    *(f"{p}_{s}" for p in ("physical", "postal") for s in ("address_1", "address_2", "suburb", "city",
                                                          "postcode", "state", "country_id")),
)  # fmt: skip
BOOL_FIELDS = {"do_not_email": False, "enable_promotional_sms": False, "enable_loyalty": True}
NUMBER_FIELDS = ("on_account_limit",)
READ_ONLY = {"balance": 0, "loyalty_balance": 0, "year_to_date": 0}
ALWAYS_SHOWN = ("first_name", "last_name")
SEARCH_ATTRS = ("email", "phone", "mobile", "customer_code", "first_name", "last_name", "company_name")
_RETRY_MARK = "X-Fake-Retry-After-Seconds"  # resolved into an HTTP date when the response is sent


def _iso(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00")


def http_date(moment: float) -> str:
    """RFC 1123 date, rounded up so a client never retries before the window has really reset."""
    return email.utils.formatdate(math.ceil(moment), usegmt=True)


def _error(status: int, error: str, **extra: Any) -> Response:
    response = jsonify({"error": error, **extra})
    response.status_code = status
    return response


class FakeServer(FakeVendorServer):
    """X-Series on 127.0.0.1. `rate_limit=None` switches the window off (throughput tests)."""

    vendor = "lightspeed-x"
    DEFAULT_TOKEN = "lsx-personal-token"
    DEFAULT_CLIENT_ID = "lsx-client-id"
    DEFAULT_CLIENT_SECRET = "lsx-client-secret"
    DEFAULT_REFRESH_TOKEN = "lsx-refresh-token-0"

    def __init__(
        self,
        *,
        rate_limit: int | None = DEFAULT_RATE_LIMIT,
        window_seconds: float = DEFAULT_WINDOW_SECONDS,
        access_token: str = DEFAULT_TOKEN,
        client_id: str = DEFAULT_CLIENT_ID,
        client_secret: str = DEFAULT_CLIENT_SECRET,
        refresh_token: str = DEFAULT_REFRESH_TOKEN,
        domain_prefix: str = "fakestore",
        random_seed: int = 0,
        clock: Callable[[], float] = time.time,
        reset_form: str | None = "epoch",
    ) -> None:
        super().__init__()
        if reset_form not in ("epoch", "seconds", None):
            raise ValueError("reset_form must be 'epoch', 'seconds' or None")
        self.reset_form = reset_form
        self.rate_limit = rate_limit
        self.window_seconds = window_seconds
        self.client_id = client_id
        self.client_secret = client_secret
        self.domain_prefix = domain_prefix
        self.clock = clock
        self._initial = (access_token, refresh_token, random_seed)
        self.clear()

    def clear(self) -> None:
        """Back to the state just after construction: no customers, the initial tokens, fresh windows,
        no faults, empty logs (lets one running fake serve many tests)."""
        access_token, refresh_token, random_seed = self._initial
        with self.lock:
            self.reset()
            self.customers: dict[str, dict[str, Any]] = {}  # id -> full record (nulls kept), insertion order
            self.webhooks: dict[str, dict[str, Any]] = {}
            self.version = FIRST_VERSION
            self.access_tokens: dict[str, str] = {access_token: PERSONAL_APP}  # token -> its app
            self.refresh_tokens: set[str] = {refresh_token}
            self.token_uses: list[str] = []  # the Bearer token of every API request, in order
            self.reject_tokens = False  # answer 401 to every API request, whatever the token
            self.windows: dict[str, WindowLimit] = {}
            self._rng = random.Random(random_seed)
            self._token_serial = 0

    # --- Python helpers for tests ------------------------------------------------------------------
    @property
    def records(self) -> dict[str, dict[str, Any]]:
        """Every stored customer as held (null fields included), deleted ones too."""
        with self.lock:
            return {cid: dict(rec) for cid, rec in self.customers.items()}

    def record(self, customer_id: str) -> dict[str, Any]:
        with self.lock:
            return dict(self.customers[customer_id])

    def state(self) -> dict[str, Any]:
        with self.lock:
            return {
                "customers": [dict(rec) for rec in self.customers.values()],
                "version": self.version,
                "webhooks": list(self.webhooks.values()),
            }

    def seed(self, records: Iterable[dict[str, Any]]) -> list[str]:
        ids = []
        with self.lock:
            for raw in records:
                record = self._blank(raw.get("id") or self._new_id())
                record |= _from_convenience(raw, self._now())
                record["customer_code"] = record["customer_code"] or self._new_code(record["first_name"])
                record["version"] = self._next_version()
                record["name"] = _full_name(record)
                self.customers[record["id"]] = record
                ids.append(record["id"])
        return ids

    def edit(self, customer_id: str, **fields: Any) -> dict[str, Any]:
        """A change made by staff in the POS: new values, new `updated_at`, a new `version`."""
        with self.lock:
            record = self.customers[customer_id]
            record.update(fields)
            self._touch(record)
            return dict(record)

    def delete(self, customer_id: str) -> None:
        """Soft delete, as `DELETE /customers/{id}` does."""
        with self.lock:
            record = self.customers[customer_id]
            record["deleted_at"] = _iso(self._now())
            self._touch(record)

    archive = delete  # X-Series has no archive: the nearest thing is the (final) soft delete

    def expire_access_tokens(self) -> None:
        """Every issued access token stops working (what happens after `expires_in`)."""
        with self.lock:
            self.access_tokens.clear()

    def add_access_token(self, token: str, app: str = PERSONAL_APP) -> None:
        with self.lock:
            self.access_tokens[token] = app

    def inject(
        self,
        status: int,
        *,
        count: int | None = 1,
        for_seconds: float | None = None,
        headers: dict[str, str] | None = None,
        body: Any = None,
        retry_after: float | None = 1.0,
        vendor_headers: bool = True,
    ) -> None:
        """Base `inject`; a 429 gets the vendor's body and, unless `vendor_headers=False`, a
        `Retry-After` HTTP date `retry_after` seconds after it is answered and `X-RateLimit-Remaining: 0`."""
        if status == 429 and vendor_headers:
            headers = dict(headers or {})
            if retry_after is not None and not any(k.lower() == "retry-after" for k in headers):
                headers[_RETRY_MARK] = str(retry_after)
            headers.setdefault("X-RateLimit-Remaining", "0")
            body = dict(RATE_LIMIT_BODY) if body is None else body
        super().inject(status, count=count, for_seconds=for_seconds, headers=headers, body=body)

    def send_webhook(
        self, url: str, customer_id: str, *, extra_fields: bool = True, timeout: float = 5.0
    ) -> requests.Response:
        """POST a `customer.update` delivery as X-Series does: form-encoded, `payload` = 1.0-shape JSON."""
        with self.lock:
            payload = _v1_shape(self.customers[customer_id])
        form = {"payload": json.dumps(payload)}
        if extra_fields:
            form |= {"type": "customer.update", "domain_prefix": self.domain_prefix, "environment": "prod"}
        return requests.post(url, data=form, timeout=timeout)

    def notify(self, customer_id: str) -> list[requests.Response]:
        """Deliver a `customer.update` to every active subscription (delivery is not automatic)."""
        with self.lock:
            urls = [w["url"] for w in self.webhooks.values() if w["active"] and w["type"] == "customer.update"]
        return [self.send_webhook(url, customer_id) for url in urls]

    # --- rate limit and auth (run before every vendor request) --------------------------------------
    def check_rate_limit(self) -> Response | None:
        if request.path.endswith("/token"):
            return None  # the token endpoint has its own limit, not modelled
        token = _bearer()
        with self.lock:
            self.token_uses.append(token or "")
            app = self.access_tokens.get(token or "")
        if app is None or self.reject_tokens:
            return _error(401, "Unauthorized", message="The access token is missing, invalid or expired")
        window = self._window(app)
        if window is None:
            return None
        verdict = window.take()
        if verdict.allowed:
            return None
        response = jsonify(RATE_LIMIT_BODY)
        response.status_code = 429
        response.headers["Retry-After"] = http_date(window.reset_at)
        return response

    def rate_limit_headers(self) -> dict[str, str]:
        with self.lock:
            app = self.access_tokens.get(_bearer() or "")
        window = self._window(app) if app is not None and not request.path.endswith("/token") else None
        if window is None:
            return {}
        return {
            "X-RateLimit-Limit": str(window.limit),
            "X-RateLimit-Remaining": str(max(0, window.limit - window.count)),
            **self._reset_header(window.reset_at),
        }

    def _reset_header(self, when: float) -> dict[str, str]:
        if self.reset_form is None:
            return {}
        value = when if self.reset_form == "epoch" else max(0.0, when - self._now())
        return {"X-RateLimit-Reset": str(math.ceil(value))}

    def _window(self, app: str) -> WindowLimit | None:
        if self.rate_limit is None:
            return None
        with self.lock:
            if app not in self.windows:
                self.windows[app] = WindowLimit(self.rate_limit, self.window_seconds, clock=self.clock)
            return self.windows[app]

    def _after(self, response: Response) -> Response:
        response = super()._after(response)
        mark = response.headers.pop(_RETRY_MARK, None)
        if mark is not None:
            when = self._now() + float(mark)
            response.headers["Retry-After"] = http_date(when)
            response.headers.update(self._reset_header(when))
        return response

    # --- routes ----------------------------------------------------------------------------------
    def register_routes(self, app: Flask) -> None:
        app.add_url_rule("/api/<version>/customers", "list", self._list, methods=["GET"])
        app.add_url_rule("/api/<version>/customers", "create", self._create, methods=["POST"])
        app.add_url_rule("/api/<version>/customers/<customer_id>", "get", self._get, methods=["GET"])
        app.add_url_rule("/api/<version>/customers/<customer_id>", "update", self._update, methods=["PUT"])
        app.add_url_rule("/api/<version>/customers/<customer_id>", "delete", self._delete, methods=["DELETE"])
        app.add_url_rule("/api/<version>/search", "search", self._search, methods=["GET"])
        app.add_url_rule("/api/1.0/token", "token", self._token, methods=["POST"])
        app.add_url_rule("/api/<version>/webhooks", "webhooks", self._webhooks, methods=["GET", "POST"])
        app.add_url_rule("/api/<version>/webhooks/<hook_id>", "webhook", self._webhook, methods=["DELETE"])

    def _list(self, version: str) -> Response:
        if not API_VERSIONS.match(version):
            return _error(404, "Not Found")
        try:
            after = _int_arg("after", 0)
            before = _int_arg("before", None)
            page_size = min(_int_arg("page_size", DEFAULT_PAGE_SIZE) or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
        except ValueError as exc:
            return _error(400, "Bad Request", details=str(exc))
        deleted = _true(request.args.get("deleted"))
        with self.lock:
            rows = sorted(
                (
                    r
                    for r in self.customers.values()
                    if r["version"] > (after or 0)
                    and (before is None or r["version"] < before)
                    and (deleted or not r["deleted_at"])
                ),
                key=lambda r: r["version"],
            )[:page_size]
            data = [_public(r) for r in rows]
        versions = [r["version"] for r in rows]
        bounds = {"min": min(versions, default=None), "max": max(versions, default=None)}
        return jsonify({"data": data, "version": bounds})

    def _get(self, version: str, customer_id: str) -> Response:
        with self.lock:
            record = self.customers.get(customer_id)
            if not API_VERSIONS.match(version) or record is None or (record["deleted_at"] and not GET_SHOWS_DELETED):
                return _error(404, "Not Found", message="Customer not found")
            return jsonify({"data": _public(record)})

    def _create(self, version: str) -> Response:
        if not API_VERSIONS.match(version):
            return _error(404, "Not Found")
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            return _error(400, "Bad Request", details="the body must be a JSON object")
        with self.lock:
            problems = self._validate(body, creating=True, customer_id=None)
            if problems:
                return _error(422, "Validation failed", details=problems)
            record = self._blank(self._new_id())
            record.update({k: v for k, v in body.items() if k in record and k not in ("id", "version", *READ_ONLY)})
            record["customer_code"] = record["customer_code"] or self._new_code(record["first_name"])
            record["customer_group_id"] = record["customer_group_id"] or DEFAULT_GROUP_ID
            self._touch(record)
            self.customers[record["id"]] = record
            response = jsonify({"data": _public(record)})
        response.status_code = 201
        return response

    def _update(self, version: str, customer_id: str) -> Response:
        body = request.get_json(silent=True)
        with self.lock:
            record = self.customers.get(customer_id)
            if record is not None and record["deleted_at"]:
                self.note_write_to_archived()
            if not API_VERSIONS.match(version) or record is None or record["deleted_at"]:
                return _error(404, "Not Found", message="Customer not found")
            if not isinstance(body, dict):
                return _error(400, "Bad Request", details="the body must be a JSON object")
            problems = self._validate(body, creating=False, customer_id=customer_id)
            if problems:
                return _error(422, "Validation failed", details=problems)
            record.update({k: v for k, v in body.items() if k in record and k not in ("id", "version", *READ_ONLY)})
            self._touch(record)
            return jsonify({"data": _public(record)})

    def _delete(self, version: str, customer_id: str) -> Response:
        with self.lock:
            record = self.customers.get(customer_id)
            if not API_VERSIONS.match(version) or record is None or record["deleted_at"]:
                return _error(404, "Not Found", message="Customer not found")
            self.delete(customer_id)
        return Response(status=204)

    def _search(self, version: str) -> Response:
        if not API_VERSIONS.match(version):
            return _error(404, "Not Found")
        if request.args.get("type") != "customers":
            return _error(400, "Bad Request", details="type must be sales, products or customers (fake: customers)")
        try:
            offset = _int_arg("offset", 0) or 0
            page_size = min(_int_arg("page_size", MAX_SEARCH_PAGE_SIZE) or MAX_SEARCH_PAGE_SIZE, MAX_SEARCH_PAGE_SIZE)
        except ValueError as exc:
            return _error(400, "Bad Request", details=str(exc))
        wanted = {a: request.args[a] for a in SEARCH_ATTRS if a in request.args}
        include, exclude = request.args.get("_id"), request.args.get("-_id")
        deleted = _true(request.args.get("deleted"))
        with self.lock:
            rows = [
                r
                for r in self.customers.values()
                if (deleted or not r["deleted_at"])
                and all(_same(a, r.get(a), v) for a, v in wanted.items())
                and (include is None or r["id"] == include)
                and (exclude is None or r["id"] != exclude)
            ]
            order_by = request.args.get("order_by")
            if order_by in SEARCH_ATTRS:
                rows.sort(key=lambda r: r.get(order_by) or "", reverse=request.args.get("order_direction") == "desc")
            data = [_public(r) for r in rows[offset : offset + page_size]]
        return jsonify({"data": data})

    def _token(self) -> Response:
        form = request.form
        if form.get("client_id") != self.client_id or form.get("client_secret") != self.client_secret:
            return _error(401, "invalid_client")
        if form.get("grant_type") != "refresh_token":
            return _error(400, "unsupported_grant_type")
        with self.lock:
            old = form.get("refresh_token", "")
            if old not in self.refresh_tokens:
                return _error(400, "invalid_grant", error_description="the refresh token is invalid or revoked")
            self._token_serial += 1
            access = f"lsx-access-{self._token_serial}-{uuid.uuid4().hex[:8]}"
            refresh = f"lsx-refresh-{self._token_serial}-{uuid.uuid4().hex[:8]}"
            self.access_tokens[access] = self.client_id
            if REVOKE_OLD_REFRESH_TOKEN:
                self.refresh_tokens.discard(old)
            self.refresh_tokens.add(refresh)
        now = int(self._now())
        return jsonify(
            {
                "access_token": access,
                "token_type": "Bearer",
                "expires": now + TOKEN_LIFETIME_SECONDS,
                "expires_in": TOKEN_LIFETIME_SECONDS,
                "refresh_token": refresh,
                "domain_prefix": self.domain_prefix,
                "scope": "customers:read customers:write webhooks",
            }
        )

    def _webhooks(self, version: str) -> Response:
        if request.method == "GET":
            with self.lock:
                return jsonify({"data": list(self.webhooks.values())})
        body = request.get_json(silent=True) or request.form.to_dict()
        if not isinstance(body, dict) or not body.get("url") or not body.get("type"):
            return _error(400, "Bad Request", details="url and type are required")
        with self.lock:
            if any(w["url"] == body["url"] and w["type"] == body["type"] for w in self.webhooks.values()):
                return _error(409, "Conflict", message="A webhook with this type and url already exists")
            hook: dict[str, Any] = {
                "id": self._new_id(),
                "retailer_id": DEFAULT_GROUP_ID,
                "type": body["type"],
                "url": body["url"],
                "active": bool(body.get("active", True)),
            }
            self.webhooks[hook["id"]] = hook
        response = jsonify({"data": hook})
        response.status_code = 201
        return response

    def _webhook(self, version: str, hook_id: str) -> Response:
        with self.lock:
            if self.webhooks.pop(hook_id, None) is None:
                return _error(404, "Not Found")
        return Response(status=204)

    # --- internals -------------------------------------------------------------------------------
    def _now(self) -> float:
        return self.clock()

    def _new_id(self) -> str:
        return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))

    def _next_version(self) -> int:
        self.version += self._rng.randint(1, 97)  # global counter: gaps are arbitrary [D]
        return self.version

    def _new_code(self, first_name: str | None) -> str:
        base = re.sub(r"[^A-Za-z0-9]", "", first_name or "")[:20] or "UNNAMED"
        taken = {str(r["customer_code"]).lower() for r in self.customers.values() if r["customer_code"]}
        while True:
            code = f"{base}-{''.join(self._rng.choices(string.ascii_uppercase + string.digits, k=4))}"
            if code.lower() not in taken:
                return code

    def _blank(self, customer_id: str) -> dict[str, Any]:
        now = _iso(self._now())
        record: dict[str, Any] = {"id": customer_id, "name": None, "deleted_at": None, "version": 0}
        record |= dict.fromkeys(STRING_FIELDS)
        record |= BOOL_FIELDS | dict.fromkeys(NUMBER_FIELDS) | READ_ONLY
        record |= {"customer_group_id": DEFAULT_GROUP_ID, "created_at": now, "updated_at": now}
        return record

    def _touch(self, record: dict[str, Any]) -> None:
        record["updated_at"] = _iso(self._now())
        record["name"] = _full_name(record)
        record["version"] = self._next_version()

    def _validate(self, body: dict[str, Any], *, creating: bool, customer_id: str | None) -> dict[str, str]:
        problems: dict[str, str] = {}
        if CREATE_REQUIRES_NAME_KEYS if creating else UPDATE_REQUIRES_NAME_KEYS:
            problems |= {k: "is required" for k in ("first_name", "last_name") if k not in body}
        for key in STRING_FIELDS:
            if body.get(key) is not None and not isinstance(body[key], str):
                problems[key] = "must be a string or null"
        for key in BOOL_FIELDS:
            if key in body and not isinstance(body[key], bool):
                problems[key] = "must be a boolean"
        for key in NUMBER_FIELDS:
            value = body.get(key)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
                problems[key] = "must be a number or null"
        dob = body.get("date_of_birth")
        if isinstance(dob, str) and dob:
            try:
                date.fromisoformat(dob)
            except ValueError:
                problems["date_of_birth"] = "must be YYYY-MM-DD"
        if body.get("gender") not in (None, "M", "F"):
            problems["gender"] = "must be M, F or null"
        code = body.get("customer_code")
        if isinstance(code, str):
            if not code.strip():
                problems["customer_code"] = "must not be empty"
            elif any(
                str(r["customer_code"]).lower() == code.lower() and cid != customer_id
                for cid, r in self.customers.items()
            ):
                problems["customer_code"] = "has already been taken"
        return problems


# --- record shapes ---------------------------------------------------------------------------------
def _public(record: dict[str, Any]) -> dict[str, Any]:
    """The 2.0 response shape: null fields left out, except the required name keys."""
    return {k: v for k, v in record.items() if v is not None or k in ALWAYS_SHOWN}


def _full_name(record: dict[str, Any]) -> str | None:
    return " ".join(p for p in (record.get("first_name"), record.get("last_name")) if p) or None


def _v1_shape(record: dict[str, Any]) -> dict[str, Any]:
    """The API 1.0 customer as webhooks carry it: `physical_address1` (no underscore), numbers as
    strings, `contact` block, `YYYY-MM-DD HH:MM:SS` times [U: field names from the 0.9/1.0 docs]."""

    def v1_time(value: str | None) -> str | None:
        return value.replace("T", " ")[:19] if value else None

    shape: dict[str, Any] = {
        "id": record["id"],
        "name": record.get("name") or "",
        "customer_code": record["customer_code"],
        "customer_group_id": record["customer_group_id"],
        "first_name": record.get("first_name") or "",
        "last_name": record.get("last_name") or "",
        "company_name": record.get("company_name") or "",
        "email": record.get("email") or "",
        "phone": record.get("phone") or "",
        "mobile": record.get("mobile") or "",
        "do_not_email": record.get("do_not_email", False),
        "date_of_birth": record.get("date_of_birth"),
        "sex": record.get("gender"),
        "note": record.get("note") or "",
        "balance": f"{record.get('balance', 0):.5f}",
        "points": "0",
        "updated_at": v1_time(record.get("updated_at")),
        "deleted_at": v1_time(record.get("deleted_at")),
        "contact": {
            "company_name": record.get("company_name") or "",
            "phone": record.get("phone") or "",
            "mobile": record.get("mobile") or "",
            "email": record.get("email") or "",
        },
    }
    for prefix in ("physical", "postal"):
        for suffix in ("address_1", "address_2", "suburb", "city", "postcode", "state", "country_id"):
            shape[f"{prefix}_{suffix.replace('address_', 'address')}"] = record.get(f"{prefix}_{suffix}") or ""
    return shape


def _from_convenience(raw: dict[str, Any], now: float) -> dict[str, Any]:
    """Vendor keys pass through; the documented convenience keys become vendor fields."""
    out = {k: v for k, v in raw.items() if k not in _CONVENIENCE}
    if "birthday" in raw:
        value = raw["birthday"]
        out["date_of_birth"] = value.isoformat() if isinstance(value, date) else value
    if "email_opt_in" in raw:
        out["do_not_email"] = not raw["email_opt_in"]
    if "sms_opt_in" in raw:
        out["enable_promotional_sms"] = bool(raw["sms_opt_in"])
    if "tags" in raw:
        out[TAGS_FIELD] = ", ".join(raw["tags"]) or None
    for key, prefix in (("billing_address", "physical"), ("shipping_address", "postal")):
        for attr, value in (raw.get(key) or {}).items():
            if attr in ADDRESS_PARTS:
                out[f"{prefix}_{ADDRESS_PARTS[attr]}"] = value
            elif attr == "company" and prefix == "physical":
                out["company_name"] = value
    if raw.get("deleted"):
        out["deleted_at"] = _iso(now)
    return out


# The seed convenience keys, read from the vendor reference on their own (not the adapter's constants), so
# a wrong constant in the adapter's mapping shows up as a contract-suite failure instead of being copied.
TAGS_FIELD = "custom_field_4"  # where possync keeps tags on an X-Series customer (SPEC, X-Series mapping)
ADDRESS_PARTS = {"address1": "address_1", "address2": "address_2", "city": "city", "province_code": "state",
                 "zip": "postcode", "country_code": "country_id"}
_CONVENIENCE = {"birthday", "email_opt_in", "sms_opt_in", "tags", "billing_address", "shipping_address", "deleted"}


# --- request helpers -------------------------------------------------------------------------------
def _bearer() -> str | None:
    value = request.headers.get("Authorization", "")
    return value[7:].strip() if value.startswith("Bearer ") else None


def _int_arg(name: str, default: int | None) -> int | None:
    value = request.args.get(name)
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except ValueError:
        raise ValueError(f"{name} must be an integer") from None
    if number < 0:
        raise ValueError(f"{name} must not be negative")
    return number


def _true(value: str | None) -> bool:
    return (value or "").lower() in ("true", "1")


def _same(attr: str, stored: Any, wanted: str) -> bool:
    if stored is None:
        return False
    if attr == "email" and not EMAIL_SEARCH_CASE_SENSITIVE:
        return str(stored).lower() == wanted.lower()
    return str(stored) == wanted
