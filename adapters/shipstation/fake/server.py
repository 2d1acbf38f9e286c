"""The fake V1 API: what it copies from the vendor (reference shopify-freshsales-shipstation.md §6.1).

- Basic auth, API key as user and secret as password; anything else is 401;
- `GET /customers?sortBy=Name|ModifyDate|CreateDate&sortDir=ASC|DESC&page=&pageSize=` (pageSize 1-500,
  default 100; page from 1) plus the `marketplaceId`, `tagId`, `stateCode`, `countryCode` filters,
  answering `{customers, total, page, pages}`; `GET /customers/{id}`; `GET /accounts/listtags`;
- customer objects in the vendor's shape: `modifyDate` with seven fraction digits and no zone,
  `marketplaceUsernames[]` (`marketplaceId` 0 = the manual "ShipStation" marketplace) and `tags[]`;
- a fixed window per key pair (40 a minute by default) with `X-Rate-Limit-Limit`, `-Remaining` and
  `-Reset` (seconds to the window's end) on every response, and 429 once it is spent.
The CSV import is modelled in `csv_import.py`.
"""

from __future__ import annotations

import base64
import itertools
import math
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Flask, Response, jsonify, request

from possync.adapters.fakes.limits import WindowLimit
from possync.adapters.fakes.server import FakeVendorServer

V1_LIMIT_PER_WINDOW = 40
V1_WINDOW_SECONDS = 60.0
DEFAULT_PAGE_SIZE = 100
LARGEST_PAGE_SIZE = 500
MANUAL_ID = 0
SORT_KEYS = {"Name": "name", "ModifyDate": "modifyDate", "CreateDate": "createDate"}


def vendor_stamp(when: datetime) -> str:
    """ShipStation's `2014-11-18T10:33:01.1900000`: seven fraction digits, no zone."""
    return when.strftime("%Y-%m-%dT%H:%M:%S.%f") + "0"


class FakeShipStation(FakeVendorServer):
    vendor = "shipstation"

    def __init__(self, api_key: str = "ss-key", api_secret: str = "ss-secret", *,
                 limit: int | None = V1_LIMIT_PER_WINDOW, window_seconds: float = V1_WINDOW_SECONDS) -> None:
        self.api_key, self.api_secret = api_key, api_secret
        self.window = WindowLimit(limit, window_seconds) if limit else None
        self.customers: dict[int, dict[str, Any]] = {}
        self.tags: dict[int, str] = {}
        self.too_many = 0  # 429s answered (instrumentation)
        self._ids = itertools.count(120_000_001)
        self._tag_ids = itertools.count(5001)
        self._clock = datetime(2026, 1, 1, tzinfo=UTC)
        super().__init__()

    # --- store ---------------------------------------------------------------------------------
    def tick(self) -> str:
        """A modify date later than every one before (a real clock may repeat within a page)."""
        now = datetime.now(UTC)
        self._clock = max(self._clock + timedelta(microseconds=10), now)
        return vendor_stamp(self._clock)

    def tag_id(self, name: str) -> int:
        with self.lock:
            for tag_id, known in self.tags.items():
                if known == name:
                    return tag_id
            tag_id = next(self._tag_ids)
            self.tags[tag_id] = name
            return tag_id

    def add_customer(self, *, name: str | None = None, email: str | None = None, phone: str | None = None,
                     company: str | None = None, street1: str | None = None, street2: str | None = None,
                     city: str | None = None, state: str | None = None, postal_code: str | None = None,
                     country_code: str | None = None, marketplace: str = "ShipStation", marketplace_id: int = MANUAL_ID,
                     username: str | None = None, tags: Iterable[str] = ()) -> int:
        """A record as an order import (a store's marketplace) or the manual marketplace would leave it."""
        with self.lock:
            customer_id = next(self._ids)
            stamp = self.tick()
            self.customers[customer_id] = {
                "customerId": customer_id, "createDate": stamp, "modifyDate": stamp, "name": name,
                "company": company, "street1": street1, "street2": street2, "city": city, "state": state,
                "postalCode": postal_code, "countryCode": country_code, "phone": phone, "email": email,
                "addressVerified": None,
                "marketplaceUsernames": [{"customerUserId": customer_id * 10, "customerId": customer_id,
                                          "createDate": stamp, "modifyDate": stamp, "marketplaceId": marketplace_id,
                                          "marketplace": marketplace, "username": username or email}],
                "tags": [{"tagId": self.tag_id(t), "name": t} for t in tags],
            }
            return customer_id

    def set_fields(self, customer_id: int, **values: Any) -> None:
        """An edit in ShipStation's web app: the record's modify date moves."""
        with self.lock:
            record = self.customers[customer_id]
            record.update(values)
            record["modifyDate"] = self.tick()

    def seed(self, records: Iterable[dict[str, Any]]) -> list[Any]:
        return [self.add_customer(**record) for record in records]

    def state(self) -> Any:
        with self.lock:
            return {"customers": list(self.customers.values()), "tags": dict(self.tags)}

    # --- rate limit ----------------------------------------------------------------------------
    def check_rate_limit(self) -> Response | None:
        if not self._authorised():
            response = jsonify({"message": "Unauthorized"})
            response.status_code = 401
            return response
        if self.window is None:
            return None
        if self.window.take().allowed:
            return None
        with self.lock:
            self.too_many += 1
        response = jsonify({"message": "Too Many Requests"})
        response.status_code = 429
        return response

    def rate_limit_headers(self) -> dict[str, str]:
        if self.window is None or not self._authorised():
            return {}
        reset = self.window.reset_in()
        return {"X-Rate-Limit-Limit": str(self.window.limit),
                "X-Rate-Limit-Remaining": str(max(0, self.window.limit - self.window.count)),
                "X-Rate-Limit-Reset": str(math.ceil(reset))}

    def _authorised(self) -> bool:
        expected = base64.b64encode(f"{self.api_key}:{self.api_secret}".encode()).decode()
        return request.headers.get("Authorization", "") == f"Basic {expected}"

    # --- routes --------------------------------------------------------------------------------
    def register_routes(self, app: Flask) -> None:
        app.add_url_rule("/customers", "list", self._list)
        app.add_url_rule("/customers/<int:customer_id>", "get", self._get)
        app.add_url_rule("/accounts/listtags", "tags", self._tags)

    def _list(self) -> Response:
        args = request.args
        try:
            page = int(args.get("page", 1))
            size = int(args.get("pageSize", DEFAULT_PAGE_SIZE))
        except ValueError:
            return _bad("page and pageSize must be whole numbers")
        if page < 1 or not 1 <= size <= LARGEST_PAGE_SIZE:
            return _bad("page must be at least 1 and pageSize between 1 and 500")
        sort_by = args.get("sortBy")
        if sort_by is not None and sort_by not in SORT_KEYS:
            return _bad("sortBy must be Name, ModifyDate or CreateDate")
        descending = (args.get("sortDir") or "ASC").upper() == "DESC"
        with self.lock:
            rows = [dict(c) for c in self.customers.values() if _matches(c, args)]
        key = SORT_KEYS.get(sort_by or "", "customerId")
        rows.sort(key=lambda c: ((c.get(key) or "") if key != "customerId" else c["customerId"], c["customerId"]),
                  reverse=descending)
        pages = max(1, math.ceil(len(rows) / size))
        return jsonify({"customers": rows[(page - 1) * size: page * size], "total": len(rows), "page": page,
                        "pages": pages})

    def _get(self, customer_id: int) -> Response:
        with self.lock:
            record = self.customers.get(customer_id)
        if record is None:
            response = jsonify({"message": "The customer was not found"})
            response.status_code = 404
            return response
        return jsonify(record)

    def _tags(self) -> Response:
        with self.lock:
            return jsonify([{"tagId": tag_id, "name": name, "color": "#FFFFFF"} for tag_id, name in self.tags.items()])


def _matches(record: dict[str, Any], args: Any) -> bool:
    if "marketplaceId" in args and not any(str(u["marketplaceId"]) == args["marketplaceId"]
                                           for u in record["marketplaceUsernames"]):
        return False
    if "tagId" in args and not any(str(t["tagId"]) == args["tagId"] for t in record["tags"]):
        return False
    if "stateCode" in args and (record.get("state") or "") != args["stateCode"]:
        return False
    return not ("countryCode" in args and (record.get("countryCode") or "") != args["countryCode"])


def _bad(message: str) -> Response:
    response = jsonify({"message": message})
    response.status_code = 400
    return response
