"""`PosAdapter` for Lightspeed Retail X-Series (API 2.0).

Request budget (benchmarked; the window is only 350 requests per 5 minutes for one register): get by
id, search by email, create, update and an idle poll are one request each. Search by phone is two,
because a number may be stored in `phone` or `mobile` and the search ANDs its attributes.

Deleted customers are final on X-Series (`can_unarchive=False`): the poll asks for `deleted=true` so
deletions arrive as `PosStatus.DELETED`, while the searches leave them out (they cannot be matched).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

import requests

from possync.adapters.base import Capabilities, ChangePage, PosAdapter, PosCustomer
from possync.adapters.errors import FatalError
from possync.adapters.lightspeed_x.client import API_PREFIX, LightspeedXClient, WrongAddressError, base_url_for
from possync.adapters.lightspeed_x.errors import VENDOR
from possync.adapters.lightspeed_x.mapping import TAGS_FIELD, from_vendor, to_vendor_changes, to_vendor_create
from possync.models.customer import Customer
from possync.models.normalise import email_key, phone_key
from possync.models.tenants import TenantSettings

CAPABILITIES = Capabilities(
    phone_slot="phone",
    has_tags=False,
    sms_consent=True,
    shipping_address=True,
    tags_field=TAGS_FIELD,
    can_unarchive=False,
)
# Customers per poll page. The 0.x docs capped pages at 200; 2.0 is reported to take more [U]. A
# full page means "there may be more"; a smaller silent cap would only delay the rest to the next poll.
PAGE_SIZE = 200
SEARCH_PAGE_SIZE = 100  # /search pages by offset, capped at 1000 by the vendor
MAX_SEARCH_PAGES = 10  # a search that matches over 1000 customers is not a lookup any more

CUSTOMERS = f"{API_PREFIX}/customers"
_ID = re.compile(r"^[A-Za-z0-9-]{1,64}$")  # UUIDs; anything else never goes into a path
SEARCH = f"{API_PREFIX}/search"


class LightspeedXAdapter(PosAdapter):
    kind = "lightspeed-x"
    capabilities = CAPABILITIES

    def __init__(self, client: LightspeedXClient, settings: TenantSettings | None = None) -> None:
        self.client = client
        self.settings = settings or TenantSettings()
        self.stats = client.stats

    # --- reads ---------------------------------------------------------------------------------
    def get_customer(self, pos_id: str) -> PosCustomer | None:
        endpoint = f"GET {CUSTOMERS}/{{id}}"
        if not _ID.match(pos_id or ""):
            return None  # X-Series ids are UUIDs: this one cannot exist, and must not reach a URL path
        try:
            response = self.client.request("GET", f"{CUSTOMERS}/{pos_id}", endpoint=endpoint)
        except WrongAddressError:
            raise
        except FatalError as exc:
            if exc.http_status == 404:
                return None
            raise
        return from_vendor(self._data(response, endpoint), endpoint)

    def search_by_email(self, email: str) -> list[PosCustomer]:
        key = email_key(email)
        if key is None:
            return []
        # The vendor compares stored text and documents nothing about case; clients send lowercase.
        return [c for _, c in self._search("email", key) if email_key(c.customer.email) == key]

    def search_by_phone(self, phone: str) -> list[PosCustomer]:
        region = self.settings.default_phone_region
        key = phone_key(phone, region)
        if key is None:
            return []
        seen: dict[str, PosCustomer] = {}
        for attr in ("phone", "mobile"):
            for record, found in self._search(attr, phone.strip()):
                # Re-check on our side: the vendor's match is on stored text, which we do not rely on.
                if key in (phone_key(record.get("phone"), region), phone_key(record.get("mobile"), region)):
                    seen.setdefault(found.pos_id, found)
        return list(seen.values())

    def changes_since(self, cursor: str | None) -> ChangePage:
        """One page of the version feed, deletions included; the cursor is the last `version.max`."""
        after = _parse_cursor(cursor)
        endpoint = f"GET {CUSTOMERS}?after"
        params = {"after": after, "page_size": PAGE_SIZE, "deleted": "true"}
        body = self._body(self.client.request("GET", CUSTOMERS, endpoint=endpoint, params=params), endpoint)
        items = body.get("data")
        if not isinstance(items, list):
            raise self.client.bad_field(endpoint, "data", "is not a list")
        customers = [from_vendor(item, endpoint, f"data[{i}]") for i, item in enumerate(items)]
        if not customers:
            return ChangePage(customers=[], next_cursor=cursor, has_more=False)
        version = body.get("version")
        top = version.get("max") if isinstance(version, dict) else None
        if not isinstance(top, int) or isinstance(top, bool):
            raise self.client.bad_field(endpoint, "version.max", "is missing or not an integer")
        if top <= after:
            raise self.client.bad_field(endpoint, "version.max", f"does not advance past the cursor {after}")
        return ChangePage(customers=customers, next_cursor=str(top), has_more=len(items) >= PAGE_SIZE)

    # --- writes --------------------------------------------------------------------------------
    def create_customer(self, customer: Customer) -> PosCustomer:
        endpoint = f"POST {CUSTOMERS}"
        response = self.client.request("POST", CUSTOMERS, endpoint=endpoint, json=to_vendor_create(customer))
        return from_vendor(self._data(response, endpoint), endpoint)

    def update_customer(self, pos_id: str, changes: Mapping[str, Any]) -> PosCustomer:
        """PUT only the given fields (X-Series applies a partial body); nothing to write costs one GET."""
        body = to_vendor_changes(changes)
        if not body:
            current = self.get_customer(pos_id)
            if current is None:
                raise FatalError("the X-Series customer does not exist", vendor=self.client.vendor)
            return current
        endpoint = f"PUT {CUSTOMERS}/{{id}}"
        if not _ID.match(pos_id or ""):
            raise FatalError("not an X-Series customer id", vendor=self.client.vendor, endpoint=endpoint)
        response = self.client.request("PUT", f"{CUSTOMERS}/{pos_id}", endpoint=endpoint, json=body)
        return from_vendor(self._data(response, endpoint), endpoint)

    # --- helpers -------------------------------------------------------------------------------
    def _search(self, attr: str, value: str) -> list[tuple[dict[str, Any], PosCustomer]]:
        """All hits of one attribute search, offset-paged, with their raw records."""
        endpoint = f"GET {SEARCH}?type=customers&{attr}"
        found: list[tuple[dict[str, Any], PosCustomer]] = []
        offset = 0
        for _ in range(MAX_SEARCH_PAGES):
            params = {"type": "customers", attr: value, "page_size": SEARCH_PAGE_SIZE, "offset": offset}
            body = self._body(self.client.request("GET", SEARCH, endpoint=endpoint, params=params), endpoint)
            items = body.get("data")
            if not isinstance(items, list):
                raise self.client.bad_field(endpoint, "data", "is not a list")
            found += [(item, from_vendor(item, endpoint, f"data[{i}]")) for i, item in enumerate(items)]
            if len(items) < SEARCH_PAGE_SIZE:
                break
            offset += len(items)
        return found

    def _body(self, response: requests.Response, endpoint: str) -> dict[str, Any]:
        body = self.client.json(response, endpoint)
        if not isinstance(body, dict):
            raise self.client.bad_field(endpoint, "body", "is not an object")
        return body

    def _data(self, response: requests.Response, endpoint: str) -> Any:
        body = self._body(response, endpoint)
        if "data" not in body:
            raise self.client.bad_field(endpoint, "data")
        return body["data"]


def _parse_cursor(cursor: str | None) -> int:
    """The cursor is the last `version.max`: one integer, however many customers changed together."""
    if cursor is None or cursor == "":
        return 0
    if not cursor.isdigit():
        raise FatalError("the stored poll cursor is not an X-Series version", vendor=VENDOR,
                         endpoint=f"GET {CUSTOMERS}?after")
    return int(cursor)


def make_adapter(
    config: Mapping[str, Any],
    secrets: Mapping[str, Any],
    settings: TenantSettings | None = None,
    save_secrets: Callable[[dict[str, Any]], None] | None = None,
) -> LightspeedXAdapter:
    """Build the adapter from the tenant file's `pos` section (config without secrets, then secrets)."""
    client = LightspeedXClient(base_url_for(config), secrets, save_secrets)
    return LightspeedXAdapter(client, settings)
