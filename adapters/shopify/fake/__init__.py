"""A fake Shopify GraphQL Admin API, faithful to the parts possync uses, quirks included.

It does not parse GraphQL: it dispatches on the `operationName` the client sends (falling back to the
first root field of the document), validates the variables the real API requires, and answers in
Shopify's shapes: `data`, `errors[].extensions.code`, `extensions.cost` with `requestedQueryCost`,
`actualQueryCost` and `throttleStatus {maximumAvailable, currentlyAvailable, restoreRate}`.

Quirks kept on purpose:
- calculated-cost throttling: a request whose requested cost exceeds what the bucket holds gets HTTP
  200 with `errors: [{message: "Throttled", extensions: {code: "THROTTLED"}}]`; the difference
  between requested and actual cost is refunded (default bucket 2000 restoring 100/s, a standard
  plan today; `throttled` counts the refusals, for benchmarks);
- `numberOfOrders` is an UnsignedInt64, serialised as a string;
- phones are stored in E.164 and must be valid; emails and phones are unique per shop;
- consent input refuses NOT_SUBSCRIBED, REDACTED and INVALID, needs an email (or phone) to attach
  to, and an update older than the stored `consentUpdatedAt` changes nothing (latest wins);
- an unknown or wrong token is HTTP 401 with Shopify's REST-style `{"errors": "[API] ..."}` body.
- `customers(first:, after:)` pages by opaque base64 cursors (`pageInfo { hasNextPage endCursor }`),
  and its requested cost is 2 + first x the objects each node selects, so a selection too rich for a
  page of 250 is refused with MAX_COST_EXCEEDED as Shopify refuses it.

With `subscribe(url, secret)` the fake also sends the webhooks Shopify sends after an API write
(`customers/create`, `customers/update`, the consent topics): that is how possync meets its own
writes coming back (SPEC rule 5).
"""

from __future__ import annotations

import base64
import copy
import itertools
import json
import queue
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import phonenumbers
from flask import Flask, Response, jsonify, request

from possync.adapters.fakes.server import FakeVendorServer
from possync.adapters.shopify import webhooks

DEFAULT_TOKEN = "shpat_fake_token"
DEFAULT_SHOP = "possync-demo.myshopify.com"
INVALID_TOKEN = "[API] Invalid API key or access token (unrecognized login or wrong password)"
MAX_QUERY_COST = 1000
UNTHROTTLED = 1e9  # the bucket and restore rate reported when throttling is off
MAX_PAGE = 250
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
METAFIELD_RE = re.compile(r'metafield\(\s*namespace:\s*"([^"]+)"\s*,\s*key:\s*"([^"]+)"\s*\)')
ROOT_FIELD_RE = re.compile(r"\{\s*(\w+)")
SEARCH_TERM_RE = re.compile(r'(\w+):(?:"((?:[^"\\]|\\.)*)"|(\S+))')
SETTABLE_CONSENT = {"SUBSCRIBED", "PENDING", "UNSUBSCRIBED"}
EMAIL_STATES = {"NOT_SUBSCRIBED", "PENDING", "SUBSCRIBED", "UNSUBSCRIBED", "REDACTED", "INVALID"}
OPT_IN_LEVELS = {"SINGLE_OPT_IN", "CONFIRMED_OPT_IN", "UNKNOWN"}

# Requested costs per operation (objects 1 point, connections 2 + first x node, mutations 10), as
# Shopify would compute them for the client's selections. Actual cost is lower when less came back.
NODE_COST = 6  # customer + amountSpent + defaultEmailAddress + defaultPhoneNumber + defaultAddress + metafield
COSTS = {
    "GetCustomer": NODE_COST,
    "GetOrder": 3 + NODE_COST,
    "CustomerCreate": 10,
    "CustomerUpdate": 10,
    "CustomerEmailMarketingConsentUpdate": 10,
    "CustomerSmsMarketingConsentUpdate": 10,
    "CustomerMerge": 10,
    "CustomerMergePreview": 1,
    "CustomerMergeJobStatus": 1,
}
ROOT_FIELDS = {
    "customer": "GetCustomer",
    "customers": "SearchCustomers",  # with `operationName: ListCustomers`, the listing
    "order": "GetOrder",
    "customerCreate": "CustomerCreate",
    "customerUpdate": "CustomerUpdate",
    "customerEmailMarketingConsentUpdate": "CustomerEmailMarketingConsentUpdate",
    "customerSmsMarketingConsentUpdate": "CustomerSmsMarketingConsentUpdate",
    "customerMerge": "CustomerMerge",
    "customerMergePreview": "CustomerMergePreview",
    "customerMergeJobStatus": "CustomerMergeJobStatus",
}
# `CustomerMergeErrorFieldType` values that refuse a merge outright (reference §4.1); a test sets them
# on a customer with `add_customer(merge_blockers=...)` for the data this fake does not model.
MERGE_BLOCKERS = frozenset({
    "COMPANY_CONTACT", "CUSTOMER_PAYMENT_METHODS", "DELETED_AT", "GIFT_CARDS", "MERGE_IN_PROGRESS",
    "MULTIPASS_IDENTIFIER", "PENDING_DATA_REQUEST", "REDACTED_AT", "STORE_CREDIT", "SUBSCRIPTIONS",
})
MAX_MERGED_NOTE = 5000  # a longer merged note, or more merged tags, must be edited first
MAX_MERGED_TAGS = 250


class GraphQLError(Exception):
    """A top-level `errors` entry (bad variables, unknown field); the request's data is null."""

    def __init__(self, message: str, code: str, **extensions: Any) -> None:
        super().__init__(message)
        self.entry = {"message": message, "extensions": {"code": code, **extensions}}


class RefusedError(Exception):
    """A mutation's `userErrors` (the mutation's payload has `customer: null`)."""

    def __init__(self, *errors: dict[str, Any]) -> None:
        super().__init__("; ".join(e["message"] for e in errors))
        self.errors = list(errors)


def user_error(field: list[str] | None, message: str, code: str | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"field": field, "message": message}
    if code:
        error["code"] = code
    return error


class CostBucket:
    """Shopify's calculated-query-cost leaky bucket for one app on one shop."""

    def __init__(self, maximum: float, restore_rate: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.maximum = maximum
        self.restore_rate = restore_rate
        self.available = maximum
        self._clock = clock
        self._at = clock()
        self._lock = threading.Lock()

    def _restore(self) -> None:
        now = self._clock()
        self.available = min(self.maximum, self.available + (now - self._at) * self.restore_rate)
        self._at = now

    def take(self, requested: float) -> bool:
        with self._lock:
            self._restore()
            if requested > self.available:
                return False
            self.available -= requested
            return True

    def refund(self, points: float) -> None:
        with self._lock:
            self.available = min(self.maximum, self.available + max(0.0, points))

    def status(self) -> dict[str, float | int]:
        with self._lock:
            self._restore()
            return {
                "maximumAvailable": float(self.maximum),
                "currentlyAvailable": int(self.available),
                "restoreRate": float(self.restore_rate),
            }


@dataclass
class Delivery:
    topic: str
    webhook_id: str
    status: int | None
    error: str | None = None


class FakeShopify(FakeVendorServer):
    vendor = "shopify"

    def __init__(
        self,
        access_token: str = DEFAULT_TOKEN,
        *,
        shop_domain: str = DEFAULT_SHOP,
        maximum_available: float | None = 2000.0,
        restore_rate: float = 100.0,
        default_region: str = "US",
    ) -> None:
        self.access_token = access_token
        self.shop_domain = shop_domain
        self.default_region = default_region
        # None disables throttling: every response reports a full bucket too big to empty, so a client
        # pacing itself by `throttleStatus` is not held to a limit this fake does not enforce.
        self.bucket = CostBucket(maximum_available, restore_rate) if maximum_available is not None else None
        self.throttled = 0  # THROTTLED answers given (instrumentation; Shopify reports them per response)
        self._customers: dict[str, dict[str, Any]] = {}
        self._orders: dict[str, dict[str, Any]] = {}
        self._ids = itertools.count(7_208_000_000_001)
        self._subscriptions: list[tuple[str, str, frozenset[str] | None]] = []
        self.deliveries: list[Delivery] = []
        self.operations: list[str] = []  # every operation run, in order (tests count the mutations)
        self._outbox: queue.Queue[tuple[str, dict[str, Any]] | None] = queue.Queue()
        self._merge_jobs: dict[str, dict[str, Any]] = {}
        self.merge_seconds = 0.3  # how long a merge job runs in the background before it completes
        self._sender: threading.Thread | None = None
        super().__init__()

    # --- store helpers for tests ---------------------------------------------------------------
    def _next_id(self) -> str:
        return str(next(self._ids))

    def add_customer(
        self,
        first_name: str | None = None,
        last_name: str | None = None,
        email: str | None = None,
        phone: str | None = None,
        *,
        id: str | int | None = None,
        state: str = "ENABLED",
        tags: Iterable[str] = (),
        address: dict[str, Any] | None = None,
        email_consent: str | None = None,
        sms_consent: str | None = None,
        consent_updated_at: str | None = None,
        birthday: str | None = None,
        orders_count: int = 0,
        amount_spent: str = "0.0",
        tax_exempt: bool = False,
        note: str | None = None,
        merge_blockers: Iterable[str] = (),
    ) -> str:
        """Add a customer directly (no validation, no webhook); returns its numeric id as a string.

        `address` uses GraphQL `MailingAddressInput` keys (`address1`, `city`, `provinceCode`, `zip`,
        `countryCode`, ...); consent states are GraphQL enum values (`SUBSCRIBED`, ...).
        """
        with self.lock:
            customer_id = str(id) if id is not None else self._next_id()
            now = _now()
            record: dict[str, Any] = {
                "id": customer_id,
                "first_name": first_name,
                "last_name": last_name,
                "email": email,
                "phone": self._e164(phone) if phone else None,
                "state": state.upper(),
                "tags": list(tags),
                "addresses": [_address_from_input(address)] if address else [],
                "email_consent": _consent_record(email_consent or "NOT_SUBSCRIBED", consent_updated_at),
                "sms_consent": _consent_record(sms_consent or "NOT_SUBSCRIBED", consent_updated_at),
                "metafields": {},
                "orders_count": orders_count,
                "amount_spent": amount_spent,
                "tax_exempt": tax_exempt,
                "note": note,
                "merge_blockers": sorted(set(merge_blockers)),
                "created_at": now,
                "updated_at": now,
            }
            if birthday:
                record["metafields"][("facts", "birth_date")] = {"type": "date", "value": birthday}
            self._customers[customer_id] = record
            return customer_id

    def add_order(
        self,
        customer_id: str | int | None = None,
        *,
        id: str | int | None = None,
        source_name: str = "web",
        email: str | None = None,
        phone: str | None = None,
        billing_address: dict[str, Any] | None = None,
        shipping_address: dict[str, Any] | None = None,
    ) -> str:
        """Add an order (addresses in `MailingAddressInput` keys); counts it on its customer."""
        with self.lock:
            order_id = str(id) if id is not None else self._next_id()
            customer = self._customers.get(str(customer_id)) if customer_id is not None else None
            if customer_id is not None and customer is None:
                raise KeyError(f"no customer {customer_id}")
            if customer is not None:
                customer["orders_count"] += 1
            self._orders[order_id] = {
                "id": order_id,
                "customer_id": str(customer_id) if customer_id is not None else None,
                "source_name": source_name,
                "email": email if email is not None else (customer or {}).get("email"),
                "phone": phone,
                "billing_address": _address_from_input(billing_address) if billing_address else None,
                "shipping_address": _address_from_input(shipping_address) if shipping_address else None,
            }
            return order_id

    def set_metafield(self, customer_id: str, namespace: str, key: str, value: str, type_: str = "date") -> None:
        with self.lock:
            self._customers[str(customer_id)]["metafields"][(namespace, key)] = {"type": type_, "value": value}

    @property
    def customers(self) -> dict[str, dict[str, Any]]:
        """A copy of the stored customers by id (internal snake_case records)."""
        with self.lock:
            return copy.deepcopy(self._customers)

    @property
    def orders(self) -> dict[str, dict[str, Any]]:
        with self.lock:
            return copy.deepcopy(self._orders)

    def seed(self, records: Iterable[dict[str, Any]]) -> list[Any]:
        """Control API: `{"type": "customer"|"order", ...add_customer/add_order keyword arguments}`."""
        ids = []
        for record in records:
            fields = dict(record)
            kind = fields.pop("type", "customer")
            ids.append(self.add_order(**fields) if kind == "order" else self.add_customer(**fields))
        return ids

    def state(self) -> Any:
        def jsonable(record: dict[str, Any]) -> dict[str, Any]:
            out = dict(record)
            if "metafields" in out:
                out["metafields"] = {f"{ns}.{key}": v for (ns, key), v in out["metafields"].items()}
            return out

        with self.lock:
            return {
                "customers": [jsonable(c) for c in self._customers.values()],
                "orders": [jsonable(o) for o in self._orders.values()],
                "throttle": self.bucket.status() if self.bucket else None,
            }

    def reset(self) -> None:
        super().reset()
        self.throttled = 0
        if self.bucket is not None:
            self.bucket = CostBucket(self.bucket.maximum, self.bucket.restore_rate)

    # --- webhooks after API writes ---------------------------------------------------------------
    def subscribe(self, url: str, secret: str, topics: Iterable[str] | None = None) -> None:
        """Send the webhooks Shopify would send after API writes to `url`, signed with `secret`."""
        with self.lock:
            self._subscriptions.append((url, secret, frozenset(topics) if topics is not None else None))
            if self._sender is None:
                self._sender = threading.Thread(target=self._send_loop, name="fake-shopify-webhooks", daemon=True)
                self._sender.start()

    def emit(self, topic: str, payload: dict[str, Any]) -> None:
        """Queue one delivery of `payload` to every subscription that wants `topic`."""
        if self._subscriptions:
            self._outbox.put((topic, payload))

    def wait_for_deliveries(self, timeout: float = 5.0) -> None:
        """Block until every queued webhook has been sent (tests)."""
        deadline = time.monotonic() + timeout
        while (self._outbox.unfinished_tasks) and time.monotonic() < deadline:
            time.sleep(0.01)

    def _send_loop(self) -> None:
        while True:
            item = self._outbox.get()
            try:
                if item is None:
                    return
                topic, payload = item
                for url, secret, topics in list(self._subscriptions):
                    if topics is not None and topic not in topics:
                        continue
                    webhook_id = str(uuid.uuid4())
                    try:
                        response = webhooks.send_webhook(url, topic, payload, secret, self.shop_domain, webhook_id)
                        self.deliveries.append(Delivery(topic, webhook_id, response.status_code))
                    except Exception as exc:  # a down receiver is what Shopify's retries are for
                        self.deliveries.append(Delivery(topic, webhook_id, None, type(exc).__name__))
            finally:
                self._outbox.task_done()

    def stop(self) -> None:
        if self._sender is not None:
            self._outbox.put(None)
            self._sender = None
        super().stop()

    # --- HTTP ------------------------------------------------------------------------------------
    def register_routes(self, app: Flask) -> None:
        @app.post("/admin/api/<version>/graphql.json")
        def _graphql(version: str) -> Response:
            if request.headers.get("X-Shopify-Access-Token") != self.access_token:
                return _json({"errors": INVALID_TOKEN}, 401)
            body = request.get_json(silent=True)
            if not isinstance(body, dict) or not isinstance(body.get("query"), str):
                return _json({"errors": {"query": "Required parameter missing or invalid"}}, 400)
            variables = body.get("variables") or {}
            if not isinstance(variables, dict):
                return _json({"errors": {"variables": "must be an object"}}, 400)
            response = _json(self.execute(body["query"], variables, body.get("operationName")))
            response.headers["X-Shopify-API-Version"] = version
            return response

    def execute(self, query: str, variables: dict[str, Any], operation: str | None) -> dict[str, Any]:
        """One GraphQL request: dispatch, cost accounting and the response envelope."""
        name = operation or _root_operation(query)
        handler = getattr(self, f"_op_{name}", None) if name else None
        if handler is None or not name:
            error = GraphQLError(
                f"Field '{name or '?'}' doesn't exist on type 'QueryRoot'", "undefinedField", fieldName=name
            )
            return {"errors": [error.entry]}
        requested = self._requested_cost(name, variables, query)
        if requested > MAX_QUERY_COST:
            return {
                "errors": [GraphQLError(
                    f"Query cost is {requested}, which exceeds the single query max cost limit ({MAX_QUERY_COST}).",
                    "MAX_COST_EXCEEDED", cost=requested, maxCost=MAX_QUERY_COST,
                ).entry],
            }
        if self.bucket is not None and not self.bucket.take(requested):
            with self.lock:
                self.throttled += 1
            return {
                "errors": [{
                    "message": "Throttled",
                    "extensions": {"code": "THROTTLED", "documentation": "https://shopify.dev/api/usage/rate-limits"},
                }],
                "extensions": {"cost": self._cost(requested, None)},
            }
        try:
            with self.lock:
                self.operations.append(name)
                data, actual = handler(variables, query)
        except GraphQLError as exc:
            if self.bucket is not None:
                self.bucket.refund(requested)
            return {"errors": [exc.entry], "extensions": {"cost": self._cost(requested, 0)}}
        if self.bucket is not None:
            self.bucket.refund(requested - actual)
        return {"data": data, "extensions": {"cost": self._cost(requested, actual)}}

    def _requested_cost(self, name: str, variables: dict[str, Any], query: str) -> int:
        if name in ("SearchCustomers", "ListCustomers"):
            first = variables.get("first")
            per_node = NODE_COST if name == "SearchCustomers" else _node_objects(query)
            return 2 + (first if isinstance(first, int) and first > 0 else 0) * per_node
        return COSTS.get(name, 1)

    def _cost(self, requested: int, actual: int | None) -> dict[str, Any]:
        status = self.bucket.status() if self.bucket is not None else {
            "maximumAvailable": UNTHROTTLED, "currentlyAvailable": int(UNTHROTTLED), "restoreRate": UNTHROTTLED
        }
        return {"requestedQueryCost": requested, "actualQueryCost": actual, "throttleStatus": status}

    # --- operations: each returns (data, actual cost) ---------------------------------------------
    def _op_GetCustomer(self, variables: dict[str, Any], query: str) -> tuple[dict[str, Any], int]:  # noqa: N802
        customer_id = _gid_variable(variables, "id", "Customer")
        record = self._customers.get(customer_id) if customer_id else None
        if record is None:
            return {"customer": None}, 1
        return {"customer": self._node(record, query)}, NODE_COST

    def _op_GetOrder(self, variables: dict[str, Any], query: str) -> tuple[dict[str, Any], int]:  # noqa: N802
        order_id = _gid_variable(variables, "id", "Order")
        order = self._orders.get(order_id) if order_id else None
        if order is None:
            return {"order": None}, 1
        customer = self._customers.get(order["customer_id"]) if order["customer_id"] else None
        node = {
            "id": f"gid://shopify/Order/{order['id']}",
            "sourceName": order["source_name"],
            "email": order["email"],
            "phone": order["phone"],
            "customer": self._node(customer, query) if customer else None,
            "billingAddress": _address_node(order["billing_address"]),
            "shippingAddress": _address_node(order["shipping_address"]),
        }
        return {"order": node}, 3 + (NODE_COST if customer else 0)

    def _op_SearchCustomers(self, variables: dict[str, Any], query: str) -> tuple[dict[str, Any], int]:  # noqa: N802
        search = variables.get("query")
        first = variables.get("first")
        if not isinstance(first, int) or isinstance(first, bool):
            raise _invalid_variable("first", "Int!", first)
        if not 1 <= first <= MAX_PAGE:
            raise GraphQLError(f"The 'first' argument must be between 1 and {MAX_PAGE}", "BAD_REQUEST")
        matches = [c for c in self._customers.values() if self._matches(c, search if isinstance(search, str) else "")]
        matches.sort(key=lambda c: int(c["id"]))
        nodes = [self._node(c, query) for c in matches[:first]]
        return {"customers": {"nodes": nodes}}, 2 + len(nodes) * NODE_COST

    def _op_CustomersCount(self, variables: dict[str, Any], query: str) -> tuple[dict[str, Any], int]:  # noqa: N802
        with self.lock:
            return {"customersCount": {"count": len(self._customers), "precision": "EXACT"}}, 1

    def _op_ListCustomers(self, variables: dict[str, Any], query: str) -> tuple[dict[str, Any], int]:  # noqa: N802
        """Every customer by id, a page at a time; `after` is the `endCursor` of the page before."""
        first, after = variables.get("first"), variables.get("after")
        if not isinstance(first, int) or isinstance(first, bool):
            raise _invalid_variable("first", "Int!", first)
        if not 1 <= first <= MAX_PAGE:
            raise GraphQLError(f"The 'first' argument must be between 1 and {MAX_PAGE}", "BAD_REQUEST")
        if after is not None and not isinstance(after, str):
            raise _invalid_variable("after", "String", after, "Expected value to be a string")
        last_id = _decode_cursor(after) if after is not None else 0
        ordered = sorted(int(i) for i in self._customers if int(i) > last_id)
        page = [self._customers[str(i)] for i in ordered[:first]]
        selected = _node_fields(query)  # a listing answers the fields it asked for, nothing more
        nodes = [{k: v for k, v in self._node(c, query).items() if k in selected} for c in page]
        end = _encode_cursor(int(page[-1]["id"])) if page else None
        info = {"hasNextPage": len(ordered) > first, "endCursor": end}
        return {"customers": {"nodes": nodes, "pageInfo": info}}, 2 + len(nodes) * _node_objects(query)

    def _op_CustomerCreate(self, variables: dict[str, Any], query: str) -> tuple[dict[str, Any], int]:  # noqa: N802
        value = _input_variable(variables, "CustomerInput!")
        try:
            if value.get("id"):
                raise RefusedError(user_error(["id"], "Id must not be given when creating a customer"))
            record: dict[str, Any] = {
                "id": None, "orders_count": 0, "amount_spent": "0.0", "state": "DISABLED", "tags": [],
                "addresses": [], "metafields": {}, "note": None, "merge_blockers": [],
                "first_name": None, "last_name": None, "email": None,
                "phone": None, "email_consent": _consent_record("NOT_SUBSCRIBED", None),
                "sms_consent": _consent_record("NOT_SUBSCRIBED", None)}
            self._apply_input(record, value)
            if not (record["email"] or record["phone"] or record["first_name"] or record["last_name"]):
                raise RefusedError(user_error(None, "A name, phone number, or email address must be present"))
        except RefusedError as exc:
            return {"customerCreate": {"customer": None, "userErrors": exc.errors}}, 10
        record["id"] = self._next_id()
        record["created_at"] = record["updated_at"] = _now()
        self._customers[record["id"]] = record
        self.emit("customers/create", self._webhook_body(record))
        return {"customerCreate": {"customer": self._node(record, query), "userErrors": []}}, 10

    def _op_CustomerUpdate(self, variables: dict[str, Any], query: str) -> tuple[dict[str, Any], int]:  # noqa: N802
        value = _input_variable(variables, "CustomerInput!")
        customer_id = _parse_gid(value.get("id"), "Customer")
        record = self._customers.get(customer_id) if customer_id else None
        try:
            if record is None:
                raise RefusedError(user_error(["id"], "Customer does not exist"))
            draft = copy.deepcopy(record)
            self._apply_input(draft, {k: v for k, v in value.items() if k != "id"})
        except RefusedError as exc:
            return {"customerUpdate": {"customer": None, "userErrors": exc.errors}}, 10
        if draft != record:
            draft["updated_at"] = _now()
            record.clear()
            record.update(draft)
            self.emit("customers/update", self._webhook_body(record))
        return {"customerUpdate": {"customer": self._node(record, query), "userErrors": []}}, 10

    def _op_CustomerEmailMarketingConsentUpdate(  # noqa: N802
        self, variables: dict[str, Any], query: str
    ) -> tuple[dict[str, Any], int]:
        return self._consent_update(variables, query, "email")

    def _op_CustomerSmsMarketingConsentUpdate(  # noqa: N802
        self, variables: dict[str, Any], query: str
    ) -> tuple[dict[str, Any], int]:
        return self._consent_update(variables, query, "sms")

    def _consent_update(self, variables: dict[str, Any], query: str, channel: str) -> tuple[dict[str, Any], int]:
        root = "customerEmailMarketingConsentUpdate" if channel == "email" else "customerSmsMarketingConsentUpdate"
        key = "emailMarketingConsent" if channel == "email" else "smsMarketingConsent"
        type_name = "CustomerEmailMarketingConsentUpdateInput!" if channel == "email" else (
            "CustomerSmsMarketingConsentUpdateInput!")
        value = _input_variable(variables, type_name)
        consent = value.get(key)
        if not isinstance(consent, dict):
            raise _invalid_variable("input", type_name, value, f"Expected value for {key} to not be null")
        customer_id = _parse_gid(value.get("customerId"), "Customer")
        record = self._customers.get(customer_id) if customer_id else None
        try:
            if record is None:
                raise RefusedError(user_error(["input", "customerId"], "Customer not found", "INVALID"))
            if channel == "email" and not record["email"]:
                raise RefusedError(user_error(["input", "customerId"], "Customer must have an email address",
                                            "MISSING_ARGUMENT"))
            if channel == "sms" and not record["phone"]:
                raise RefusedError(user_error(["input", "customerId"], "Customer must have a phone number",
                                            "MISSING_ARGUMENT"))
            changed = self._apply_consent(record, channel, consent, ["input", key])
        except RefusedError as exc:
            return {root: {"customer": None, "userErrors": exc.errors}}, 10
        if changed:
            record["updated_at"] = _now()
            if channel == "email":
                self.emit("customers_email_marketing_consent/update", webhooks.email_consent_payload(
                    record["id"], record["email"], record["email_consent"]["state"].lower(),
                    opt_in_level=(record["email_consent"]["opt_in_level"] or "").lower() or None,
                    consent_updated_at=record["email_consent"]["updated_at"]))
            else:
                self.emit("customers_marketing_consent/update", webhooks.sms_consent_payload(
                    record["id"], record["phone"], record["sms_consent"]["state"].lower(),
                    opt_in_level=(record["sms_consent"]["opt_in_level"] or "").lower() or None,
                    consent_updated_at=record["sms_consent"]["updated_at"]))
        return {root: {"customer": self._node(record, query), "userErrors": []}}, 10

    # --- merging two customers (reference §4.1) ----------------------------------------------------
    def _merge_pair(self, variables: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        one_id = _gid_variable(variables, "customerOneId", "Customer")
        two_id = _gid_variable(variables, "customerTwoId", "Customer")
        one, two = self._customers.get(one_id or ""), self._customers.get(two_id or "")
        if one is None or two is None or one is two:
            raise RefusedError(user_error(["customerOneId"], "Invalid customer", "INVALID_CUSTOMER_ID"))
        return one, two

    def _merge_errors(self, one: dict[str, Any], two: dict[str, Any]) -> list[dict[str, Any]]:
        """`customerMergeErrors`: the hard blockers of each side (`errorFields`), with a message."""
        errors = []
        for record in (one, two):
            fields = set(record["merge_blockers"])
            if record["email_consent"]["state"] == "REDACTED":
                fields.add("REDACTED_AT")
            if any(job["status"] in ("REQUESTED", "IN_PROGRESS") and record["id"] in job["pair"]
                   for job in self._merge_jobs.values()):
                fields.add("MERGE_IN_PROGRESS")
            if fields:
                errors.append({"errorFields": sorted(fields),
                               "message": f"Customer {record['id']} can't be merged: {', '.join(sorted(fields))}"})
        return errors

    def _merged_values(self, one: dict[str, Any], two: dict[str, Any]) -> tuple[str, list[str]]:
        notes = [r["note"] for r in (two, one) if r["note"]]
        tags = list({t.casefold(): t for t in reversed(two["tags"] + one["tags"])}.values())[::-1]
        return "\n".join(notes), tags

    def _blocking_fields(self, note: str, tags: list[str], override: dict[str, Any]) -> dict[str, Any] | None:
        """The limits a merge cannot pass unless the override edits them: note and tags."""
        note, tags = override.get("note", note), override.get("tags", tags)
        blocking = {"note": note if len(note or "") > MAX_MERGED_NOTE else None,
                    "tags": tags if len(tags) > MAX_MERGED_TAGS else None}
        return blocking if any(v is not None for v in blocking.values()) else None

    def _survivor(self, one: dict[str, Any], two: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
        """Which profile survives: the email override, the only one with an email, an enabled account, else two."""
        given = override.get("customerIdOfEmailToKeep")
        wanted = _parse_gid(given, "Customer") if given is not None else None
        if wanted in (one["id"], two["id"]):
            return one if wanted == one["id"] else two
        if bool(one["email"]) != bool(two["email"]):
            return one if one["email"] else two
        if one["email"] and (one["state"] == "ENABLED") != (two["state"] == "ENABLED"):
            return one if one["state"] == "ENABLED" else two
        return two

    def _op_CustomerMergePreview(self, variables: dict[str, Any], query: str) -> tuple[dict[str, Any], int]:  # noqa: N802
        try:
            one, two = self._merge_pair(variables)
        except RefusedError as exc:
            return {"customerMergePreview": {"customerMergeErrors": [
                {"errorFields": ["OVERRIDE_FIELDS"], "message": exc.errors[0]["message"]}],
                "blockingFields": None, "defaultFields": None, "resultingCustomerId": None}}, 1
        override = variables.get("overrideFields") or {}
        note, tags = self._merged_values(one, two)
        kept = self._survivor(one, two, override)
        return {"customerMergePreview": {
            "resultingCustomerId": f"gid://shopify/Customer/{kept['id']}",
            "customerMergeErrors": self._merge_errors(one, two),
            "blockingFields": self._blocking_fields(note, tags, override),
            "defaultFields": {"note": note or None, "tags": tags, "firstName": kept["first_name"] or None,
                              "lastName": kept["last_name"] or None},
        }}, 1

    def _op_CustomerMerge(self, variables: dict[str, Any], query: str) -> tuple[dict[str, Any], int]:  # noqa: N802
        """Starts an asynchronous job; the merge itself happens `merge_seconds` later, then `customers/merge`."""
        override = variables.get("overrideFields") or {}
        try:
            one, two = self._merge_pair(variables)
            errors = self._merge_errors(one, two)
            if errors:
                codes = {"GIFT_CARDS": "CUSTOMER_HAS_GIFT_CARDS"}
                field = errors[0]["errorFields"][0]
                raise RefusedError(user_error(["customerOneId"], errors[0]["message"],
                                              codes.get(field, "INVALID_CUSTOMER")))
            note, tags = self._merged_values(one, two)
            if self._blocking_fields(note, tags, override):
                raise RefusedError(user_error(["overrideFields"], "Merged note or tags exceed the limits; "
                                              "override them", "MISSING_OVERRIDE_ATTRIBUTE"))
        except RefusedError as exc:
            return {"customerMerge": {"job": None, "resultingCustomerId": None, "userErrors": exc.errors}}, 10
        kept = self._survivor(one, two, override)
        gone = two if kept is one else one
        job_id = self._next_id()
        self._merge_jobs[job_id] = {"status": "REQUESTED", "pair": (one["id"], two["id"]), "kept": kept["id"],
                                    "deleted": gone["id"], "override": override}
        timer = threading.Timer(self.merge_seconds, self._run_merge, (job_id,))
        timer.daemon = True
        timer.start()
        return {"customerMerge": {"job": {"id": f"gid://shopify/Job/{job_id}", "done": False},
                                  "resultingCustomerId": f"gid://shopify/Customer/{kept['id']}",
                                  "userErrors": []}}, 10

    def _run_merge(self, job_id: str) -> None:
        with self.lock:
            job = self._merge_jobs[job_id]
            job["status"] = "IN_PROGRESS"
            kept, gone = self._customers.get(job["kept"]), self._customers.get(job["deleted"])
            if kept is None or gone is None:
                job["status"] = "FAILED"
                return
            note, tags = self._merged_values(gone, kept)
            override = job["override"]
            kept["note"] = override.get("note", note) or None
            kept["tags"] = override.get("tags", tags)
            for name in ("first_name", "last_name", "phone"):
                kept[name] = kept[name] or gone[name]
            kept["addresses"] = kept["addresses"] + [a for a in gone["addresses"] if a not in kept["addresses"]]
            kept["orders_count"] += gone["orders_count"]
            for order in self._orders.values():
                if order["customer_id"] == gone["id"]:
                    order["customer_id"] = kept["id"]
            kept["updated_at"] = _now()
            del self._customers[gone["id"]]
            job["status"] = "COMPLETED"
        self.emit("customers/merge", webhooks.merge_payload(kept["id"], gone["id"], job_id=f"gid://shopify/Job/{job_id}"))

    def _op_CustomerMergeJobStatus(self, variables: dict[str, Any], query: str) -> tuple[dict[str, Any], int]:  # noqa: N802
        job_id = _parse_gid(variables.get("jobId"), "Job")
        job = self._merge_jobs.get(job_id or "")
        if job is None:
            return {"customerMergeJobStatus": None}, 1
        return {"customerMergeJobStatus": {
            "jobId": f"gid://shopify/Job/{job_id}", "status": job["status"],
            "resultingCustomerId": f"gid://shopify/Customer/{job['kept']}", "customerMergeErrors": [],
        }}, 1

    # --- writing a CustomerInput -----------------------------------------------------------------
    def _apply_input(self, record: dict[str, Any], value: dict[str, Any]) -> None:
        """Apply a `CustomerInput` to `record` in place; raises `RefusedError` like Shopify's validations."""
        errors: list[dict[str, Any]] = []
        for graphql_name, name in (("firstName", "first_name"), ("lastName", "last_name")):
            if graphql_name in value:
                text = value[graphql_name]
                if text is not None and (not isinstance(text, str) or len(text) > 255):
                    errors.append(user_error([graphql_name], f"{graphql_name} is too long (maximum is 255)"))
                else:
                    record[name] = text or None
        if "email" in value:
            email = value["email"]
            if email in (None, ""):
                record["email"] = None
            elif not isinstance(email, str) or not EMAIL_RE.match(email) or len(email) > 255:
                errors.append(user_error(["email"], "Email is invalid"))
            elif self._taken("email", email.lower(), record["id"]):
                errors.append(user_error(["email"], "Email has already been taken"))
            else:
                record["email"] = email
        if "phone" in value:
            phone = value["phone"]
            if phone in (None, ""):
                record["phone"] = None
            else:
                e164 = self._e164(phone) if isinstance(phone, str) else None
                if e164 is None:
                    errors.append(user_error(["phone"], "Phone is invalid"))
                elif self._taken("phone", e164, record["id"]):
                    errors.append(user_error(["phone"], "Phone has already been taken"))
                else:
                    record["phone"] = e164
        if "tags" in value:
            tags = value["tags"] if isinstance(value["tags"], list) else str(value["tags"] or "").split(",")
            tags = [t.strip() for t in tags if isinstance(t, str) and t.strip()]
            if len(tags) > 250:
                errors.append(user_error(["tags"], "Tags cannot be more than 250"))
            elif any(len(t) > 255 for t in tags):
                errors.append(user_error(["tags"], "Tags is too long (maximum is 255 characters)"))
            else:
                record["tags"] = list({t.casefold(): t for t in reversed(tags)}.values())[::-1]  # "not case sensitive"
        if "addresses" in value:
            addresses = value["addresses"] or []
            for position, address in enumerate(addresses):
                code = (address or {}).get("countryCode")
                if code is not None and (not isinstance(code, str) or not re.fullmatch(r"[A-Za-z]{2}", code)):
                    errors.append(user_error(["addresses", str(position), "countryCode"], "Country is invalid"))
            if not errors:
                record["addresses"] = [_address_from_input(a) for a in addresses if a]
        for position, metafield in enumerate(value.get("metafields") or []):
            namespace, key = metafield.get("namespace"), metafield.get("key")
            if not namespace or not key:
                errors.append(user_error(["metafields", str(position), "key"], "Key can't be blank"))
                continue
            if metafield.get("type") == "date" and not _is_date(metafield.get("value")):
                errors.append(user_error(["metafields", str(position), "value"], "Value must be a date (YYYY-MM-DD)"))
                continue
            record["metafields"][(namespace, key)] = {"type": metafield.get("type"), "value": metafield.get("value")}
        if errors:
            raise RefusedError(*errors)
        for channel, key in (("email", "emailMarketingConsent"), ("sms", "smsMarketingConsent")):
            if value.get(key) is not None:
                if channel == "email" and not record["email"]:
                    raise RefusedError(user_error([key], "An email address is required to set email marketing consent"))
                if channel == "sms" and not record["phone"]:
                    raise RefusedError(user_error([key], "A phone number is required to set SMS marketing consent"))
                self._apply_consent(record, channel, value[key], [key])

    def _apply_consent(self, record: dict[str, Any], channel: str, consent: dict[str, Any], path: list[str]) -> bool:
        """Set one channel's consent; False when an older timestamp lost to the stored one (latest wins)."""
        state = consent.get("marketingState")
        if not isinstance(state, str) or state not in EMAIL_STATES:
            raise GraphQLError(f"Variable $input of type {path[-1]} was provided invalid value for marketingState",
                               "INVALID_VARIABLE")
        if state not in SETTABLE_CONSENT:
            raise RefusedError(user_error([*path, "marketingState"], f"State {state} cannot be set", "INVALID"))
        level = consent.get("marketingOptInLevel")
        if level is not None and level not in OPT_IN_LEVELS:
            raise GraphQLError("Variable $input was provided invalid value for marketingOptInLevel", "INVALID_VARIABLE")
        stamp_text = consent.get("consentUpdatedAt")
        stamp = _parse_stamp(stamp_text) if stamp_text is not None else datetime.now(UTC)
        if stamp is None:
            raise GraphQLError("Variable $input was provided invalid value for consentUpdatedAt", "INVALID_VARIABLE")
        slot = f"{channel}_consent"
        stored = _parse_stamp(record[slot]["updated_at"]) if record[slot]["updated_at"] else None
        if stored is not None and stamp < stored:
            return False
        record[slot] = {"state": state, "opt_in_level": level, "updated_at": stamp.isoformat()}
        return True

    def _taken(self, field: str, value: str, own_id: str | None) -> bool:
        for other in self._customers.values():
            if other["id"] == own_id or not other[field]:
                continue
            if (other[field].lower() if field == "email" else other[field]) == value:
                return True
        return False

    def _e164(self, phone: str) -> str | None:
        try:
            parsed = phonenumbers.parse(phone, self.default_region)
        except phonenumbers.NumberParseException:
            return None
        if not phonenumbers.is_valid_number(parsed):
            return None
        return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)

    def _matches(self, record: dict[str, Any], search: str) -> bool:
        """Shopify search syntax, the subset possync sends: `field:"value"` terms joined by OR / AND."""
        groups = [g for g in re.split(r"\s+OR\s+", search.strip()) if g]
        for group in groups:
            terms = SEARCH_TERM_RE.findall(group)
            if terms and all(self._term(record, f, q or bare) for f, q, bare in terms):
                return True
        return False

    def _term(self, record: dict[str, Any], field: str, raw: str) -> bool:
        value = raw.replace('\\"', '"').replace("\\\\", "\\")
        if field == "email":
            return bool(record["email"]) and record["email"].lower() == value.strip().lower()
        if field == "phone":
            wanted = self._e164(value) or re.sub(r"\D", "", value)
            return bool(record["phone"]) and record["phone"] == wanted
        if field == "id":
            return record["id"] == value
        return False

    # --- rendering --------------------------------------------------------------------------------
    def _node(self, record: dict[str, Any], query: str) -> dict[str, Any]:
        """A `Customer` node in the shape of the client's selection."""
        match = METAFIELD_RE.search(query)
        metafield = record["metafields"].get((match.group(1), match.group(2))) if match else None
        default = record["addresses"][0] if record["addresses"] else None
        email_consent, sms_consent = record["email_consent"], record["sms_consent"]
        return {
            "id": f"gid://shopify/Customer/{record['id']}",
            "firstName": record["first_name"],
            "lastName": record["last_name"],
            "state": record["state"],
            "tags": sorted(record["tags"], key=str.lower),
            "numberOfOrders": str(record["orders_count"]),  # UnsignedInt64 is a JSON string
            "createdAt": record.get("created_at"),
            "updatedAt": record["updated_at"],
            "taxExempt": bool(record.get("tax_exempt")),
            "amountSpent": {"amount": record["amount_spent"], "currencyCode": "USD"},
            "defaultEmailAddress": {
                "emailAddress": record["email"],
                "marketingState": email_consent["state"],
                "marketingOptInLevel": email_consent["opt_in_level"],
                "marketingUpdatedAt": email_consent["updated_at"],
            } if record["email"] else None,
            "defaultPhoneNumber": {
                "phoneNumber": record["phone"],
                "marketingState": sms_consent["state"],
                "marketingOptInLevel": sms_consent["opt_in_level"],
                "marketingUpdatedAt": sms_consent["updated_at"],
                "marketingCollectedFrom": "OTHER",
            } if record["phone"] else None,
            "defaultAddress": _address_node(default),
            "metafield": {"value": metafield["value"]} if metafield else None,
        }

    def _webhook_body(self, record: dict[str, Any]) -> dict[str, Any]:
        """The 2026-07 `customers/create|update` body for a stored customer."""
        default = record["addresses"][0] if record["addresses"] else None
        address = None
        if default:
            address = webhooks.address_payload(
                default.get("address1"), default.get("city"), default.get("province_code"), default.get("zip"),
                default.get("country_code"), address2=default.get("address2"), company=default.get("company"),
                first_name=record["first_name"], last_name=record["last_name"],
            )
        return webhooks.customer_payload(
            record["id"], record["email"], record["first_name"], record["last_name"], record["phone"],
            default_address=address, state=record["state"].lower(), created_at=record.get("created_at"),
            updated_at=record["updated_at"],
        )


# --- helpers -----------------------------------------------------------------------------------------
def _json(body: Any, status: int = 200) -> Response:
    response = jsonify(body)
    response.status_code = status
    return response


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _parse_stamp(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        stamp = datetime.fromisoformat(value)
    except ValueError:
        return None
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)


def _is_date(value: Any) -> bool:
    try:
        date.fromisoformat(value)
    except (TypeError, ValueError):
        return False
    return len(value) == 10


def _consent_record(state: str, updated_at: str | None) -> dict[str, Any]:
    return {"state": state.upper(), "opt_in_level": "SINGLE_OPT_IN" if state.upper() == "SUBSCRIBED" else None,
            "updated_at": updated_at}


def _address_from_input(value: dict[str, Any]) -> dict[str, Any]:
    """A `MailingAddressInput` as stored (snake_case)."""
    return {
        "address1": value.get("address1"),
        "address2": value.get("address2"),
        "city": value.get("city"),
        "company": value.get("company"),
        "province_code": value.get("provinceCode"),
        "zip": value.get("zip"),
        "country_code": (value.get("countryCode") or "").upper() or None,
    }


def _address_node(address: dict[str, Any] | None) -> dict[str, Any] | None:
    if not address:
        return None
    return {
        "address1": address.get("address1"),
        "address2": address.get("address2"),
        "city": address.get("city"),
        "company": address.get("company"),
        "province": address.get("province_code"),
        "provinceCode": address.get("province_code"),
        "zip": address.get("zip"),
        "countryCodeV2": address.get("country_code"),
    }


def _node_selection(query: str) -> str:
    """The text inside `nodes { ... }` (empty when the document has none)."""
    start = query.find("nodes {")
    if start < 0:
        return ""
    depth = 0
    for position in range(start + len("nodes "), len(query)):
        depth += {"{": 1, "}": -1}.get(query[position], 0)
        if depth == 0:
            return query[start + len("nodes {"):position]
    return ""


def _node_objects(query: str) -> int:
    """Objects selected per node of a connection: the node itself and each nested `{ ... }`."""
    return 1 + _node_selection(query).count("{")


def _node_fields(query: str) -> set[str]:
    """The node's own fields named by the selection (nested selections left out)."""
    fields, depth = set(), 0
    for token in re.findall(r"[{}]|\w+", _node_selection(query)):
        if token in "{}":
            depth += 1 if token == "{" else -1
        elif depth == 0:
            fields.add(token)
    return fields


def _encode_cursor(last_id: int) -> str:
    """Shopify's cursors are opaque base64 JSON; clients must only pass them back."""
    return base64.b64encode(json.dumps({"last_id": last_id, "last_value": str(last_id)}).encode()).decode()


def _decode_cursor(cursor: str) -> int:
    try:
        value = json.loads(base64.b64decode(cursor, validate=True))
        return int(value["last_id"])
    except (ValueError, TypeError, KeyError):
        raise GraphQLError("Invalid cursor for current pagination", "BAD_REQUEST") from None


def _root_operation(query: str) -> str | None:
    """The operation for a document sent without `operationName`: its first root field."""
    match = ROOT_FIELD_RE.search(query)
    return ROOT_FIELDS.get(match.group(1)) if match else None


def _invalid_variable(name: str, type_name: str, value: Any, explanation: str | None = None) -> GraphQLError:
    return GraphQLError(
        f"Variable ${name} of type {type_name} was provided invalid value",
        "INVALID_VARIABLE",
        value=value,
        problems=[{"path": [], "explanation": explanation or "Expected value to not be null"}],
    )


def _input_variable(variables: dict[str, Any], type_name: str) -> dict[str, Any]:
    value = variables.get("input")
    if not isinstance(value, dict):
        raise _invalid_variable("input", type_name, value)
    return value


def _parse_gid(value: Any, kind: str) -> str | None:
    """The number of a `gid://shopify/<kind>/<n>`; None for a well-formed gid of another kind;
    a `GraphQLError` (as Shopify's coercion error) for anything that is not a gid at all."""
    if not isinstance(value, str) or not value.startswith("gid://shopify/"):
        raise GraphQLError(f"Invalid global id '{str(value)[:60]}'", "argumentLiteralsIncompatible",
                           typeName="CoercionError")
    parts = value[len("gid://shopify/"):].split("/")
    if len(parts) != 2 or not parts[1].isdigit():
        raise GraphQLError(f"Invalid global id '{value[:60]}'", "argumentLiteralsIncompatible",
                           typeName="CoercionError")
    return parts[1] if parts[0] == kind else None


def _gid_variable(variables: dict[str, Any], name: str, kind: str) -> str | None:
    if variables.get(name) is None:
        raise _invalid_variable(name, "ID!", None)
    return _parse_gid(variables[name], kind)
