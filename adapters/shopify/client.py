"""Shopify GraphQL Admin API client: the reads and writes the pipeline needs, nothing more.

Built on `VendorHttpClient` (one request path, timeouts, HTTP error table). GraphQL adds three error
channels that arrive with HTTP 200, handled here:

- `errors` with `extensions.code == "THROTTLED"`: the calculated-cost bucket is empty. The wait is
  `(requestedQueryCost - currentlyAvailable) / restoreRate` from `extensions.cost`, raised as
  `RateLimitedError(retry_after=...)`: a worker never sleeps, the pipeline retries with a countdown.
- other `errors`: `INTERNAL_SERVER_ERROR` is transient (`RetryableError`); anything else (bad query,
  access denied, shop inactive) will fail the same way again (`FatalError`).
- `userErrors` of a mutation: the input was refused (`ShopifyUserError`, a `FatalError` naming the field).

Every response's `throttleStatus` is passed to `on_rate_limit` so the shared limiter can pace calls
before Shopify has to refuse them: before each request `query_cost` is the points it will ask for
(Shopify's `requestedQueryCost` last seen for that operation), and after it `refund` is what Shopify
gave back (requested minus actual; all of it when the call was refused), so a bucket charged before
sending ends where Shopify's own is.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import requests

from possync.adapters.base import DEFAULT_TIMEOUT, VendorHttpClient
from possync.adapters.errors import (
    DEFAULT_ERROR_TABLE,
    BadResponseError,
    ErrorAction,
    ErrorResolution,
    FatalError,
    RateLimitedError,
    RetryableError,
)
from possync.adapters.ratelimit import RateLimitInfo, header, parse_retry_after
from possync.adapters.shopify import mapping, queries
from possync.models.customer import Consent, Customer
from possync.models.shopify_values import SHOPIFY_API_VERSION, ShopifyCustomer, ShopifyOrder

DEFAULT_API_VERSION = SHOPIFY_API_VERSION

SHOPIFY_ERROR_TABLE = DEFAULT_ERROR_TABLE | {
    401: ErrorResolution(ErrorAction.FATAL, "Shopify rejected the access token; reinstall the app or update the token"),
    402: ErrorResolution(ErrorAction.FATAL, "the shop is frozen (Shopify: payment required)"),
    403: ErrorResolution(ErrorAction.FATAL, "the access token lacks a required scope (customers, orders)"),
    404: ErrorResolution(ErrorAction.FATAL, "the shop or API version does not exist"),
    423: ErrorResolution(ErrorAction.FATAL, "the shop is locked"),
}

# GraphQL `extensions.code` values that are worth retrying with back-off.
RETRYABLE_CODES = frozenset({"INTERNAL_SERVER_ERROR", "SERVICE_UNAVAILABLE", "TIMEOUT"})
MIN_THROTTLE_WAIT = 0.1  # seconds; a computed wait of ~0 would just hit the empty bucket again
# Points charged for an operation before Shopify has told its requested cost once in this process:
# a mutation's price (a customer read costs less; a first search more, corrected by its answer).
FIRST_QUERY_COST = 10.0
_requested_costs: dict[str, float] = {}  # operation -> Shopify's last `requestedQueryCost` for it


@dataclass(frozen=True)
class CustomerPage:
    """One page of `list_customers`; pass `end_cursor` back for the next while `has_next`."""

    customers: list[ShopifyCustomer]
    end_cursor: str | None
    has_next: bool


class ShopifyUserError(FatalError):
    """A mutation's `userErrors`: Shopify refused the input. `errors` holds (field path, message)."""

    def __init__(self, errors: list[tuple[str, str]], **kwargs: Any) -> None:
        self.errors = errors
        self.fields = [path for path, _ in errors]
        text = "; ".join(f"{path}: {message}" if path else message for path, message in errors)
        super().__init__(f"Shopify refused the input: {text}", **kwargs)


class ShopifyClient(VendorHttpClient):
    vendor = "shopify"
    error_table = SHOPIFY_ERROR_TABLE

    def __init__(
        self,
        shop_domain: str,
        access_token: str,
        api_version: str = DEFAULT_API_VERSION,
        base_url: str | None = None,
        *,
        birthday_metafield: tuple[str, str] = mapping.BIRTHDAY_METAFIELD,
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
    ) -> None:
        super().__init__(base_url or f"https://{shop_domain}", timeout=timeout)
        self.shop_domain = shop_domain
        self.api_version = api_version
        self._token = access_token
        self.path = f"/admin/api/{api_version}/graphql.json"
        self._fields = queries.customer_fields(*birthday_metafield)
        self._birthday_metafield = birthday_metafield
        self._operation = ""
        self.query_cost = FIRST_QUERY_COST  # points the request being sent asks for (read by the limiter)
        self.refund = 0.0  # points Shopify gave back on the last response (read by the limiter)

    # --- VendorHttpClient hooks ----------------------------------------------------------------
    def auth_headers(self) -> dict[str, str]:
        return {"X-Shopify-Access-Token": self._token, "Content-Type": "application/json"}

    def parse_rate_limit(self, response: requests.Response) -> RateLimitInfo | None:
        """The cost bucket from `extensions.cost` (and `Retry-After` on an HTTP 429)."""
        retry_after = parse_retry_after(header(response.headers, "Retry-After"))
        payload = _json_or_none(response)
        cost = _cost(payload)
        self.refund = self._refund(cost, response.status_code)
        status = cost.get("throttleStatus") if cost else None
        if not cost or not isinstance(status, dict):
            return RateLimitInfo(retry_after=retry_after) if retry_after is not None else None
        try:
            maximum = float(status["maximumAvailable"])
            available = float(status["currentlyAvailable"])
            restore = float(status["restoreRate"])
        except (KeyError, TypeError, ValueError):
            return RateLimitInfo(retry_after=retry_after) if retry_after is not None else None
        if _throttled(payload):
            retry_after = throttle_wait(cost.get("requestedQueryCost"), available, restore)
        return RateLimitInfo(
            capacity=maximum, level=maximum - available, drip_per_second=restore, retry_after=retry_after
        )

    def _refund(self, cost: dict[str, Any] | None, http_status: int) -> float:
        """Points of the request's charge Shopify did not keep (negative: it kept more than was charged);
        learns the operation's requested cost for the next charge."""
        if cost is None:  # no cost reading: an HTTP error was charged nothing; otherwise nothing is known
            return self.query_cost if http_status >= 400 else 0.0
        requested = _number(cost.get("requestedQueryCost"))
        if requested is not None:
            _requested_costs[self._operation] = requested
        actual = _number(cost.get("actualQueryCost"))  # none when refused (THROTTLED) or failed: nothing kept
        return self.query_cost - (actual or 0.0)

    # --- GraphQL -------------------------------------------------------------------------------
    def execute(self, operation: str, query: str, variables: Mapping[str, Any]) -> dict[str, Any]:
        """Run one operation; return its `data` or raise the matching domain error."""
        endpoint = f"graphql {operation}"
        self._operation = operation
        self.query_cost = _requested_costs.get(operation, FIRST_QUERY_COST)
        body = {"query": query, "variables": dict(variables), "operationName": operation}
        response = self.request("POST", self.path, endpoint=endpoint, json=body)
        payload = self.json(response, endpoint)
        if not isinstance(payload, dict):
            raise BadResponseError("the response is not a JSON object", vendor=self.vendor, endpoint=endpoint)
        errors = payload.get("errors")
        if errors:
            raise self._graphql_error(errors, payload, endpoint)
        data = payload.get("data")
        if not isinstance(data, dict):
            raise self.bad_field(endpoint, "data")
        return data

    def _graphql_error(self, errors: Any, payload: dict[str, Any], endpoint: str) -> Exception:
        common: dict[str, Any] = {"vendor": self.vendor, "endpoint": endpoint, "http_status": 200}
        if not isinstance(errors, list):  # REST-style `{"errors": "..."}` (e.g. an invalid token with 200)
            return FatalError(str(errors)[:200], **common)
        codes = [str(((e or {}).get("extensions") or {}).get("code") or "") for e in errors if isinstance(e, dict)]
        message = "; ".join(str((e or {}).get("message", ""))[:200] for e in errors if isinstance(e, dict))
        if "THROTTLED" in codes:
            cost = _cost(payload) or {}
            status = cost.get("throttleStatus") or {}
            wait = throttle_wait(
                cost.get("requestedQueryCost"), status.get("currentlyAvailable"), status.get("restoreRate")
            )
            return RateLimitedError(f"throttled by the query-cost limit; wait {wait:.2f} s", retry_after=wait, **common)
        if any(code in RETRYABLE_CODES for code in codes):
            return RetryableError(f"Shopify had an internal error: {message}", **common)
        label = ", ".join(c for c in codes if c) or "GraphQL error"
        return FatalError(f"{label}: {message}", **common)

    def _mutation_result(self, data: dict[str, Any], root: str, endpoint: str) -> ShopifyCustomer:
        result = data.get(root)
        if not isinstance(result, dict):
            raise self.bad_field(endpoint, root)
        user_errors = result.get("userErrors") or []
        if user_errors:
            raise ShopifyUserError(
                [(_field_path(e.get("field")), str(e.get("message", ""))[:200]) for e in user_errors],
                vendor=self.vendor,
                endpoint=endpoint,
                http_status=200,
            )
        node = result.get("customer")
        if not isinstance(node, dict):
            raise self.bad_field(endpoint, f"{root}.customer")
        return mapping.customer_from_graphql(node)

    # --- operations ----------------------------------------------------------------------------
    def get_customer(self, customer_id: str) -> ShopifyCustomer | None:
        """One customer with email/SMS consent, default address, tags, state, counts and birthday."""
        variables = {"id": self._gid("Customer", customer_id)}
        data = self.execute("GetCustomer", queries.get_customer(self._fields), variables)
        node = data.get("customer")
        return mapping.customer_from_graphql(node) if node else None

    def get_order(self, order_id: str) -> ShopifyOrder | None:
        """An order with its customer and addresses (a refund names only its order)."""
        data = self.execute("GetOrder", queries.get_order(self._fields), {"id": self._gid("Order", order_id)})
        node = data.get("order")
        return mapping.order_from_graphql(node) if node else None

    def search_customers(self, email: str | None = None, phone: str | None = None) -> list[ShopifyCustomer]:
        """Customers whose email or phone matches (Shopify search: field-scoped terms are exact,
        case-insensitive). Both given: either may match. Neither: nothing to search, empty list."""
        terms = [f"{name}:{_quote(value)}" for name, value in (("email", email), ("phone", phone)) if value]
        if not terms:
            return []
        variables = {"query": " OR ".join(terms), "first": queries.SEARCH_PAGE_SIZE}
        data = self.execute("SearchCustomers", queries.search_customers(self._fields), variables)
        nodes = (data.get("customers") or {}).get("nodes")
        if not isinstance(nodes, list):
            raise self.bad_field("graphql SearchCustomers", "customers.nodes")
        return [mapping.customer_from_graphql(n) for n in nodes if isinstance(n, dict)]

    def list_customers(self, after: str | None = None, *, with_address: bool = True,
                       with_tags: bool = False, full: bool = False) -> CustomerPage:
        """One page of every customer, by id (`customers(first:, after:, sortKey: ID)`): names, email,
        phone and, `with_address`, the default address; `full`: everything `get_customer` reads (the CRM
        backfill). A read: costs points, writes nothing."""
        endpoint = "graphql ListCustomers"
        if full:
            fields = queries.customer_fields(*self._birthday_metafield)
        else:
            fields = queries.list_fields(with_address, with_tags)
        size = queries.full_page_size() if full else queries.list_page_size(with_address)
        data = self.execute("ListCustomers", queries.list_customers(fields), {"first": size, "after": after})
        connection = data.get("customers")
        nodes = connection.get("nodes") if isinstance(connection, dict) else None
        info = connection.get("pageInfo") if isinstance(connection, dict) else None
        if not isinstance(nodes, list):
            raise self.bad_field(endpoint, "customers.nodes")
        if not isinstance(info, dict) or not isinstance(info.get("hasNextPage"), bool):
            raise self.bad_field(endpoint, "customers.pageInfo.hasNextPage")
        cursor = info.get("endCursor")
        if info["hasNextPage"] and not isinstance(cursor, str):
            raise self.bad_field(endpoint, "customers.pageInfo.endCursor", "is missing while hasNextPage is true")
        return CustomerPage([mapping.customer_from_graphql(n) for n in nodes if isinstance(n, dict)],
                            cursor if isinstance(cursor, str) else None, info["hasNextPage"])

    def count_customers(self) -> int | None:
        """How many customers the shop has (`customersCount`), for a time estimate; None when not told."""
        data = self.execute("CustomersCount", queries.COUNT_CUSTOMERS, {})
        count = (data.get("customersCount") or {}).get("count") if isinstance(data, dict) else None
        return count if isinstance(count, int) else None

    def create_customer(self, customer: Customer) -> ShopifyCustomer:
        """Create with names, contacts, addresses, tags, consent and the birthday metafield."""
        variables = {"input": mapping.customer_input(customer, self._birthday_metafield)}
        data = self.execute("CustomerCreate", queries.customer_create(self._fields), variables)
        return self._mutation_result(data, "customerCreate", "graphql CustomerCreate")

    def update_customer(self, customer_id: str, changes: Mapping[str, Any]) -> ShopifyCustomer:
        """Write basic details (`first_name`, `last_name`, `email`, `phone`) and tags; None values are not sent.
        With nothing to write this reads instead, so "no change" costs no mutation."""
        value = mapping.update_input(self._gid("Customer", customer_id), changes)
        if len(value) == 1:
            current = self.get_customer(customer_id)
            if current is None:
                raise FatalError("the customer does not exist", vendor=self.vendor, endpoint="graphql GetCustomer")
            return current
        data = self.execute("CustomerUpdate", queries.customer_update(self._fields), {"input": value})
        return self._mutation_result(data, "customerUpdate", "graphql CustomerUpdate")

    def update_email_consent(self, customer_id: str, consent: Consent) -> ShopifyCustomer:
        return self._update_consent(customer_id, consent, "email")

    def update_sms_consent(self, customer_id: str, consent: Consent) -> ShopifyCustomer:
        return self._update_consent(customer_id, consent, "sms")

    def _update_consent(self, customer_id: str, consent: Consent, channel: str) -> ShopifyCustomer:
        operation, root, key, document = {
            "email": ("CustomerEmailMarketingConsentUpdate", "customerEmailMarketingConsentUpdate",
                      "emailMarketingConsent", queries.email_consent_update),
            "sms": ("CustomerSmsMarketingConsentUpdate", "customerSmsMarketingConsentUpdate",
                    "smsMarketingConsent", queries.sms_consent_update),
        }[channel]
        endpoint = f"graphql {operation}"
        value = mapping.consent_input(consent)
        if value is None:
            raise FatalError(
                f"{key}.marketingState: Shopify sets {consent.state.value!r} itself; it cannot be written",
                vendor=self.vendor,
                endpoint=endpoint,
            )
        variables = {"input": {"customerId": self._gid("Customer", customer_id), key: value}}
        data = self.execute(operation, document(self._fields), variables)
        return self._mutation_result(data, root, endpoint)

    def _gid(self, kind: str, value: str | int) -> str:
        try:
            return mapping.gid(kind, value)
        except ValueError:
            raise FatalError(f"{kind.lower()} id is not a Shopify id", vendor=self.vendor) from None


def throttle_wait(requested: Any, available: Any, restore_rate: Any) -> float:
    """Seconds until the bucket holds `requested` points again; 1 s when Shopify's numbers are missing."""
    try:
        wait = (float(requested) - float(available)) / float(restore_rate)
    except (TypeError, ValueError, ZeroDivisionError):
        return 1.0
    if math.isnan(wait) or math.isinf(wait):
        return 1.0
    return round(max(MIN_THROTTLE_WAIT, wait), 3)


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) or math.isinf(number) else number


def _json_or_none(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _cost(payload: Any) -> dict[str, Any] | None:
    if not isinstance(payload, dict):
        return None
    cost = (payload.get("extensions") or {}).get("cost")
    return cost if isinstance(cost, dict) else None


def _throttled(payload: Any) -> bool:
    if not isinstance(payload, dict) or not isinstance(payload.get("errors"), list):
        return False
    return any(
        isinstance(e, dict) and (e.get("extensions") or {}).get("code") == "THROTTLED" for e in payload["errors"]
    )


def _field_path(field: Any) -> str:
    """`["input", "email"]` -> `email`: the `input` wrapper says nothing to a merchant."""
    if not isinstance(field, list):
        return str(field) if field else ""
    parts = [str(p) for p in field]
    if parts and parts[0] == "input":
        parts = parts[1:]
    return ".".join(parts)


def _quote(value: str) -> str:
    """A search value in double quotes, so `+`, spaces and `@` stay one term."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
