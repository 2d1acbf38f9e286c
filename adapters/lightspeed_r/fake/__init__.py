"""A contract-faithful fake of Lightspeed Retail R-Series (Retail API V3), customers only.

Serves on 127.0.0.1 through `FakeVendorServer` (request log, fault and latency injection, `/_control/`):

- `GET|POST /API/V3/Account/{id}/Customer.json`, `GET|PUT|DELETE /API/V3/Account/{id}/Customer/{cid}.json`
  (DELETE archives), `GET /API/V3/Account.json`, and the OAuth token endpoint `POST /auth/oauth/token`
  (the real one lives on cloud.lightspeedapp.com; `pos.base_url` points both at this fake);
- the vendor's shape quirks (see `fake_store`), its query language and cursor paging (see `fake_query`);
- a `Date` header from the clock that stamps `timeStamp` (clients judge how fresh a second is by it);
- bearer tokens that expire, and rotating refresh tokens: the refresh token a new access token came
  from is revoked when that access token is first used (docs, Gotcha 10);
- the leaky bucket per account (default 90, drip 1/s) with the documented request costs and headers on
  every response, 429 with `X-LS-API-RateLimit-Type` and `Retry-After` in seconds; an optional 1-second
  burst limiter. `bucket_size=None` switches the limits off for throughput tests.

Control API additions: `POST /_control/expire-tokens` (every issued access token now answers 401),
`POST /_control/archive` `{"id": "12"}`, `POST /_control/advance-clock` `{"seconds": 5}`.
"""

from __future__ import annotations

import math
import secrets
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from flask import Flask, Response, g, jsonify, request
from werkzeug.http import http_date

from possync.adapters.fakes.limits import LeakyBucket, WindowLimit
from possync.adapters.fakes.server import FakeVendorServer
from possync.adapters.lightspeed_r.fake.query import ListQuery, parse_relations, relation_cost
from possync.adapters.lightspeed_r.fake.store import CustomerStore, FakeRequestError, one_or_many, seed_body

API_PREFIX = "/API/V3/Account/"
TOKEN_PATH = "/auth/oauth/token"
CREATE_STATUS = 200  # [U] the docs do not state it; clients accept any 2xx
LEAKY_BUCKET = "api-leaky-bucket"
BURST_LIMITER = "api-burst-limiter"
# Docs: the old refresh token is revoked once the new access token is first used. False: at refresh.
REVOKE_REFRESH_ON_FIRST_USE = True
HTTP_MESSAGES = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 429: "Too Many Requests"}
ERROR_CLASSES = {400: "InvalidArgumentException", 403: "ForbiddenException", 404: "NotFoundException",
                 429: "TooManyRequestsException"}


@dataclass
class AccessToken:
    expires_at: float
    parent_refresh: str | None = None  # the refresh token it was issued for (revoked on first use)
    used: bool = False
    revoked: bool = False


def _fmt(number: float) -> str:
    return f"{round(number, 2):g}"


def vendor_error(status: int, message: str) -> Response:
    response = jsonify({
        "httpCode": str(status),
        "httpMessage": HTTP_MESSAGES.get(status, "Error"),
        "message": message,
        "errorClass": ERROR_CLASSES.get(status, "Exception"),
    })
    response.status_code = status
    return response


def oauth_error(status: int, error: str, description: str, hint: str | None = None) -> Response:
    body = {"error": error, "error_description": description}
    if hint:
        body["hint"] = hint
    response = jsonify(body)
    response.status_code = status
    return response


class FakeServer(FakeVendorServer):
    vendor = "lightspeed-r"

    def __init__(
        self,
        *,
        account_id: str = "12345",
        access_token: str | None = "fake-access-token",
        refresh_token: str | None = "fake-refresh-token",
        client_id: str = "fake-client-id",
        client_secret: str = "fake-client-secret",
        bucket_size: float | None = 90.0,
        drip_rate: float = 1.0,
        burst_limit: int | None = None,
        access_token_ttl: float = 3600.0,
        require_auth: bool = True,
        store_utc_offset_hours: float = 0.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.account_id = str(account_id)
        self.client_id = client_id
        self.client_secret = client_secret
        self.access_token_ttl = access_token_ttl
        self.require_auth = require_auth
        self.clock = clock
        self.store = CustomerStore(clock=clock, store_utc_offset_hours=store_utc_offset_hours)
        self.bucket = LeakyBucket(bucket_size, drip_rate) if bucket_size is not None else None
        self.burst = WindowLimit(burst_limit, 1.0, clock=clock) if burst_limit is not None else None
        self.token_lock = threading.RLock()
        self.access_tokens: dict[str, AccessToken] = {}
        self.refresh_tokens: dict[str, bool] = {}  # token -> revoked
        self.refresh_log: list[dict[str, str]] = []  # grants issued, in order
        if access_token:
            self.access_tokens[access_token] = AccessToken(expires_at=clock() + access_token_ttl)
        if refresh_token:
            self.refresh_tokens[refresh_token] = False
        super().__init__()

    # --- test helpers ------------------------------------------------------------------------
    def seed(self, records: Iterable[dict[str, Any]]) -> list[str]:
        """Add customers (vendor shape or the minimal keys of `fake_store.seed_body`); returns their ids."""
        ids = []
        for data in records:
            body, overrides = seed_body(data)
            ids.append(str(self.store.create(body, **overrides)["customerID"]))
        return ids

    def state(self) -> dict[str, Any]:
        return {"account_id": self.account_id, "customers": self.records}

    @property
    def records(self) -> list[dict[str, Any]]:
        """Every customer, archived included, rendered as the vendor would with Contact and Tags."""
        return [self.store.render(r, ("Contact", "Tags")) for r in self.store.all()]

    def record(self, customer_id: str | int) -> dict[str, Any] | None:
        found = self.store.get(int(customer_id))
        return None if found is None else self.store.render(found, ("Contact", "Tags"))

    def archive(self, customer_id: str | int) -> None:
        self.store.archive(int(customer_id))

    def edit(self, customer_id: str | int, body: dict[str, Any]) -> None:
        """A merchant's edit in the POS: a vendor-shaped PUT body applied without HTTP."""
        self.store.update(int(customer_id), body)

    def advance_clock(self, seconds: float) -> None:
        self.store.clock_offset += seconds

    def expire_access_tokens(self) -> None:
        with self.token_lock:
            for token in self.access_tokens.values():
                token.expires_at = 0.0

    def issue_tokens(self) -> tuple[str, str]:
        """A fresh access/refresh pair, as after an authorization-code grant."""
        with self.token_lock:
            access, refresh = f"fake-at-{secrets.token_hex(8)}", f"fake-rt-{secrets.token_hex(8)}"
            self.access_tokens[access] = AccessToken(expires_at=self.clock() + self.access_token_ttl)
            self.refresh_tokens[refresh] = False
            return access, refresh

    def access_token_used(self, token: str) -> bool:
        with self.token_lock:
            found = self.access_tokens.get(token)
            return bool(found and found.used)

    def refresh_token_valid(self, token: str) -> bool:
        with self.token_lock:
            return self.refresh_tokens.get(token) is False

    def inject_rate_limit(self, retry_after: float = 2.0, *, limit_type: str = LEAKY_BUCKET, count: int = 1) -> None:
        """Answer the next `count` requests with the vendor's own 429."""
        capacity = self.bucket.capacity if self.bucket else 90.0
        headers = {
            "Retry-After": str(math.ceil(retry_after)),
            "X-LS-API-RateLimit-Type": limit_type,
            "X-LS-API-Bucket-Level": f"{_fmt(capacity + 1)}/{_fmt(capacity)}",
            "X-LS-API-Drip-Rate": _fmt(self.bucket.drip if self.bucket else 1.0),
        }
        self.inject(429, count=count, headers=headers, body=self._rate_limit_body(limit_type))

    # --- rate limits -------------------------------------------------------------------------
    @staticmethod
    def _rate_limit_body(limit_type: str) -> dict[str, str]:
        message = "burst rate limit exceeded" if limit_type == BURST_LIMITER else "Rate limit exceeded"
        return {"httpCode": "429", "httpMessage": "Too Many Requests", "message": message,
                "errorClass": "TooManyRequestsException"}

    def request_cost(self) -> float:
        """Documented costs, simplified: 1 per request, +relations, +0.5 per nested entity written,
        10 for `count=1`."""
        if request.args.get("count") == "1":
            return 10.0
        cost = 1.0
        try:
            relations = parse_relations(request.args.get("load_relations"))
        except FakeRequestError:
            relations = []
        is_list = request.method == "GET" and request.path.endswith("/Customer.json")
        cost += relation_cost(relations, is_list=is_list)
        if request.method in ("POST", "PUT"):
            cost += 0.5 * _nested_entities(request.get_json(silent=True))
        return round(cost, 2)

    def check_rate_limit(self) -> Response | None:
        if not request.path.startswith(API_PREFIX) and request.path != "/API/V3/Account.json":
            return None
        cost = self.request_cost()
        g.ls_cost = cost
        if self.burst is not None:
            verdict = self.burst.take()
            g.ls_burst = verdict.level
            if not verdict.allowed:
                return self._too_many(BURST_LIMITER, max(1.0, verdict.retry_after))
        if self.bucket is not None:
            verdict = self.bucket.take(cost)
            g.ls_level = verdict.level
            if not verdict.allowed:
                return self._too_many(LEAKY_BUCKET, verdict.retry_after)
        return None

    def _too_many(self, limit_type: str, wait: float) -> Response:
        response = jsonify(self._rate_limit_body(limit_type))
        response.status_code = 429
        response.headers["X-LS-API-RateLimit-Type"] = limit_type
        response.headers["Retry-After"] = str(max(1, math.ceil(wait)))
        return response

    def rate_limit_headers(self) -> dict[str, str]:
        if request.path.startswith("/auth/"):
            return {}
        headers = {"Date": http_date(self.store.now()),  # the clock that stamps records (advance_clock moves both)
                   "X-LS-API-Request-Cost": _fmt(g.get("ls_cost", 1.0)), "X-LS-Acct-Id": self.account_id}
        if self.bucket is not None:
            level = g.get("ls_level", self.bucket.level)
            headers["X-LS-API-Bucket-Level"] = f"{_fmt(level)}/{_fmt(self.bucket.capacity)}"
            headers["X-LS-API-Drip-Rate"] = _fmt(self.bucket.drip)
        if self.burst is not None:
            headers["X-LS-API-Burst-Level"] = f"{_fmt(g.get('ls_burst', self.burst.count))}/{self.burst.limit}"
        return headers

    # --- auth --------------------------------------------------------------------------------
    def _authenticate(self) -> Response | None:
        if not request.path.startswith("/API/") or not self.require_auth:
            return None
        scheme, _, token = (request.headers.get("Authorization") or "").partition(" ")
        with self.token_lock:
            found = self.access_tokens.get(token) if scheme.lower() == "bearer" else None
            if found is None or found.expires_at <= self.clock():
                return oauth_error(401, "access_denied", "The resource owner or authorization server denied the "
                                   "request.", "Access token could not be verified")
            if found.revoked:
                return oauth_error(401, "access_denied", "The resource owner or authorization server denied the "
                                   "request.", "Access token has been revoked")
            if not found.used:
                found.used = True
                if REVOKE_REFRESH_ON_FIRST_USE and found.parent_refresh in self.refresh_tokens:
                    self.refresh_tokens[found.parent_refresh] = True
        return None

    def _token(self) -> Response:
        data = request.form.to_dict() if request.form else (request.get_json(silent=True) or {})
        if not isinstance(data, dict):
            return oauth_error(400, "invalid_request", "The request is missing a required parameter.")
        grant = data.get("grant_type")
        if grant != "refresh_token":
            return oauth_error(400, "unsupported_grant_type", "The authorization grant type is not supported.")
        if data.get("client_id") != self.client_id or data.get("client_secret") != self.client_secret:
            return oauth_error(401, "invalid_client", "Client authentication failed")
        old = data.get("refresh_token")
        if not old:
            return oauth_error(400, "invalid_request", "The request is missing a required parameter.",
                               'Check the `refresh_token` parameter')
        with self.token_lock:
            if self.refresh_tokens.get(old) is not False:
                return oauth_error(400, "invalid_grant", "The refresh token is invalid.", "Token has been revoked")
            access, refresh = f"fake-at-{secrets.token_hex(8)}", f"fake-rt-{secrets.token_hex(8)}"
            self.access_tokens[access] = AccessToken(self.clock() + self.access_token_ttl, parent_refresh=old)
            self.refresh_tokens[refresh] = False
            if not REVOKE_REFRESH_ON_FIRST_USE:
                self.refresh_tokens[old] = True
            self.refresh_log.append({"old_refresh_token": old, "access_token": access, "refresh_token": refresh})
        return jsonify({"token_type": "Bearer", "expires_in": int(self.access_token_ttl), "access_token": access,
                        "refresh_token": refresh})

    # --- routes ------------------------------------------------------------------------------
    def register_routes(self, app: Flask) -> None:
        app.before_request(self._authenticate)
        prefix = API_PREFIX + "<account_id>"
        app.add_url_rule(TOKEN_PATH, "token", self._token, methods=["POST"])
        app.add_url_rule("/API/V3/Account.json", "account", self._account, methods=["GET"])
        app.add_url_rule(prefix + "/Customer.json", "customers", self._customers, methods=["GET", "POST"])
        app.add_url_rule(prefix + "/Customer/<customer_id>.json", "customer", self._customer,
                         methods=["GET", "PUT", "DELETE"])
        self._register_extra_controls(app)

    def _register_extra_controls(self, app: Flask) -> None:
        @app.post("/_control/expire-tokens")
        def _expire() -> Response:
            self.expire_access_tokens()
            return jsonify({"ok": True})

        @app.post("/_control/archive")
        def _archive() -> Response:
            self.archive(request.get_json(force=True)["id"])
            return jsonify({"ok": True})

        @app.post("/_control/advance-clock")
        def _advance() -> Response:
            self.advance_clock(float(request.get_json(force=True)["seconds"]))
            return jsonify({"ok": True})

    def _account(self) -> Response:
        return jsonify({"@attributes": {"count": "1"}, "Account": {"accountID": self.account_id,
                                                                   "name": "Fake Store"}})

    def _customers(self, account_id: str) -> Response:
        if account_id != self.account_id:
            return vendor_error(403, "Access to this account is not allowed with this token")
        try:
            with self.store.lock:  # render a consistent snapshot while other threads write
                if request.method == "POST":
                    return self._create()
                return self._list()
        except FakeRequestError as exc:
            return vendor_error(exc.status, exc.message)

    def _customer(self, account_id: str, customer_id: str) -> Response:
        if account_id != self.account_id:
            return vendor_error(403, "Access to this account is not allowed with this token")
        try:
            with self.store.lock:
                return self._one(customer_id)
        except FakeRequestError as exc:
            return vendor_error(exc.status, exc.message)

    def _one(self, customer_id: str) -> Response:
        relations = parse_relations(request.args.get("load_relations"))
        record = self.store.get(int(customer_id)) if customer_id.isdigit() else None
        if record is None:
            return vendor_error(404, "Customer not found.")
        if request.method == "PUT":
            if record["archived"]:
                self.note_write_to_archived()
            body = request.get_json(silent=True)
            if not isinstance(body, dict):
                raise FakeRequestError("expected a JSON object")
            record = self.store.update(record["customerID"], body)
        elif request.method == "DELETE":
            record = self.store.archive(record["customerID"])  # soft delete
        return jsonify({"@attributes": {"count": "1"}, "Customer": self.store.render(record, relations)})

    def _create(self) -> Response:
        relations = parse_relations(request.args.get("load_relations"))
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            raise FakeRequestError("expected a JSON object")
        if "Customer" in body:
            raise FakeRequestError("send the bare Customer object, without a wrapper")
        record = self.store.create(body)
        response = jsonify({"@attributes": {"count": "1"}, "Customer": self.store.render(record, relations)})
        response.status_code = CREATE_STATUS
        return response

    def _list(self) -> Response:
        query = ListQuery.parse(request.args)
        ordered = query.select(self.store)
        if query.count_only:
            return jsonify({"@attributes": {"count": str(len(ordered))}})
        try:
            page, after, before = query.page(ordered)
        except TypeError:
            raise FakeRequestError("Invalid cursor") from None
        kept = [(k, v) for k, v in request.args.items(multi=True) if k not in ("after", "before")]
        if "limit" not in request.args:
            kept.append(("limit", str(query.limit)))
        base = request.base_url

        def link(key: str, token: str) -> str:
            return f"{base}?{urlencode([*kept, (key, token)])}" if token else ""

        body: dict[str, Any] = {
            "@attributes": {"next": link("after", after), "previous": link("before", before),
                            "count": str(len(ordered))}
        }
        if page:
            body["Customer"] = one_or_many([self.store.render(r, query.relations) for r in page])
        return jsonify(body)


def _nested_entities(body: Any) -> int:
    """Relation entities in a write body: the Contact, each email/phone/address/website, each tag."""
    if not isinstance(body, dict):
        return 0
    count = 0
    contact = body.get("Contact")
    if isinstance(contact, dict):
        count += 1
        for collection, element in (("Emails", "ContactEmail"), ("Phones", "ContactPhone"),
                                    ("Addresses", "ContactAddress"), ("Websites", "ContactWebsite")):
            holder = contact.get(collection)
            if isinstance(holder, dict):
                items = holder.get(element)
                count += len(items) if isinstance(items, list) else (1 if isinstance(items, dict) else 0)
    tags = body.get("Tags")
    if isinstance(tags, dict):
        items = tags.get("tag")
        count += len(items) if isinstance(items, list) else (1 if items else 0)
    return count
