"""`PosAdapter` for Lightspeed Retail R-Series (Retail API V3).

Request budget (benchmarked; tests hold it against the fake's request log): get by id 1, search by
email 1, search by phone 1, create 1, an empty `changes_since` poll 1. An update is 1 PUT, plus 1 GET
first when it touches email, phone or the address, because those vendor collections are replaced as a
whole and the entries possync does not own (a Work phone, a Secondary email) must be resent; given a
reading that carries them (`update_customer_as_read`), it is the PUT alone.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

import phonenumbers

from possync.adapters.base import Capabilities, ChangePage, PosAdapter, PosCustomer
from possync.adapters.change_cursor import Change, KeysetCursor, digest, vendor_time
from possync.adapters.errors import FatalError
from possync.adapters.lightspeed_r import mapping
from possync.adapters.lightspeed_r.client import LightspeedRClient
from possync.adapters.lightspeed_r.cursor import SETTLE, PollCursor
from possync.adapters.lightspeed_r.errors import VENDOR
from possync.models.customer import Customer
from possync.models.normalise import email_key, phone_key
from possync.models.tenants import TenantSettings

CAPABILITIES = Capabilities(
    phone_slot=mapping.PHONE_SLOT,
    has_tags=True,
    sms_consent=True,  # Contact.noPhone
    shipping_address=False,  # one ContactAddress list with no billing/shipping type in the contract
    tags_field=None,
    can_unarchive=True,  # PUT archived=false
)

PAGE_SIZE = 100  # the vendor's maximum `limit`
SEARCH_MAX_PAGES = 10  # a search matching over 1000 customers is not a useful match anyway
EMAIL_FIELD = "Contact.Emails.ContactEmail.address"
PHONE_FIELD = "Contact.Phones.ContactPhone.number"
# Characters that need an extra escape level inside a query value (pos-apis.md §1.4), and `\`, MySQL's
# LIKE escape (`a\_b` would match only `a_b`, never the customer's own `a\%b`). In a LIKE pattern, `_`
# (any one character) matches them without any escaping; our re-check removes extras.
_QUERY_SPECIAL = re.compile(r"[%,|=\\]")


class LightspeedRAdapter(PosAdapter):
    kind = "lightspeed-r"
    capabilities = CAPABILITIES

    def __init__(self, client: LightspeedRClient, settings: TenantSettings) -> None:
        self.client: LightspeedRClient = client
        self.settings = settings
        self.stats = client.stats

    # --- reads -------------------------------------------------------------------------------
    def _get_record(self, pos_id: str) -> dict[str, Any] | None:
        if not pos_id.isdigit():
            return None  # never put a non-id into the path; the vendor would 404 anyway
        endpoint = "GET Customer/{id}.json"
        params = {"load_relations": mapping.LOAD_RELATIONS, "archived": "true"}
        try:
            body = self.client.get_json(f"/Customer/{pos_id}.json", endpoint, params)
        except FatalError as exc:
            if exc.http_status == 404:
                return None
            raise
        return mapping.record_from_single(body, endpoint)

    def get_customer(self, pos_id: str) -> PosCustomer | None:
        record = self._get_record(str(pos_id))
        return None if record is None else mapping.to_pos_customer(record, "GET Customer/{id}.json")

    def _search(self, field: str, pattern: str, endpoint: str) -> list[dict[str, Any]]:
        params = {"load_relations": mapping.LOAD_RELATIONS, field: f"~,{pattern}", "limit": PAGE_SIZE}
        records: list[dict[str, Any]] = []
        for page, _next in self.client.pages("/Customer.json", endpoint, params, max_pages=SEARCH_MAX_PAGES):
            records.extend(page)
        return records

    def search_by_email(self, email: str) -> list[PosCustomer]:
        key = email_key(email)
        if key is None:
            return []
        endpoint = "GET Customer.json?Contact.Emails"
        records = self._search(EMAIL_FIELD, _QUERY_SPECIAL.sub("_", key), endpoint)
        found = [r for r in records if any(email_key(e) == key for e in mapping.email_addresses(r, endpoint))]
        return _unique(mapping.to_pos_customer(r, endpoint) for r in found)

    def search_by_phone(self, phone: str) -> list[PosCustomer]:
        region = self.settings.default_phone_region
        key = phone_key(phone, region)
        digits = _national_digits(phone, region)
        if key is None or not digits:
            return []
        endpoint = "GET Customer.json?Contact.Phones"
        # Numbers are stored as typed (`(360) 555-2453`): a wildcard between every digit finds them all.
        pattern = "%" + "%".join(digits) + "%"
        records = self._search(PHONE_FIELD, pattern, endpoint)
        found = [r for r in records if any(phone_key(n, region) == key for n in mapping.phone_numbers(r, endpoint))]
        return _unique(mapping.to_pos_customer(r, endpoint) for r in found)

    # --- writes ------------------------------------------------------------------------------
    def create_customer(self, customer: Customer) -> PosCustomer:
        endpoint = "POST Customer.json"
        body = mapping.create_body(customer)
        params = {"load_relations": mapping.LOAD_RELATIONS}
        response = self.client.send_json("POST", "/Customer.json", endpoint, body, params)
        record = mapping.record_from_single(response, endpoint)
        if "Contact" not in record:
            # The vendor did not echo the relations: read back what we sent, as the vendor stores it.
            record = {**body, **record}
        return mapping.to_pos_customer(record, endpoint)

    def update_customer(self, pos_id: str, changes: Mapping[str, Any]) -> PosCustomer:
        return self._update(str(pos_id), changes, None)

    def update_customer_as_read(self, read: PosCustomer, changes: Mapping[str, Any]) -> PosCustomer:
        """The caller's reading carries the contact collections: no GET before the PUT."""
        return self._update(read.pos_id, changes, read if isinstance(read.vendor_state, Mapping) else None)

    def _update(self, pos_id: str, changes: Mapping[str, Any], read: PosCustomer | None) -> PosCustomer:
        endpoint = "PUT Customer/{id}.json"
        current: dict[str, Any] | None = dict(read.vendor_state or {}) if read is not None else None
        if not pos_id.isdigit() or (current is None and mapping.COLLECTION_FIELDS & set(changes)):
            current = self._get_record(pos_id)
            if current is None:
                raise FatalError("the Lightspeed customer does not exist", vendor=VENDOR, endpoint=endpoint,
                                 http_status=404)
            read = mapping.to_pos_customer(current, endpoint)
        body = mapping.update_body(changes, current, endpoint)
        if not body:
            existing = self.get_customer(pos_id) if read is None else read
            if existing is None:
                raise FatalError("the Lightspeed customer does not exist", vendor=VENDOR, endpoint=endpoint,
                                 http_status=404)
            return existing
        response = self.client.send_json(
            "PUT", f"/Customer/{pos_id}.json", endpoint, body, {"load_relations": mapping.LOAD_RELATIONS}
        )
        record = mapping.record_from_single(response, endpoint)
        if "Contact" not in record:
            fresh = self.get_customer(pos_id)
            if fresh is None:
                raise FatalError("the Lightspeed customer vanished during the update", vendor=VENDOR,
                                 endpoint=endpoint, http_status=404)
            return fresh
        return mapping.to_pos_customer(record, endpoint)

    def count_customers(self) -> int | None:
        """`GET Customer.json?count=1` (10 drips; archived included, as the change walk reads them)."""
        endpoint = "GET Customer.json?count"
        body = self.client.get_json("/Customer.json", endpoint, {"count": "1", "archived": "true"})
        count = (body.get("@attributes") or {}).get("count") if isinstance(body, dict) else None
        return int(count) if isinstance(count, str | int) and str(count).isdigit() else None

    # --- change polling ----------------------------------------------------------------------
    def changes_since(self, cursor: str | None) -> ChangePage:
        """One vendor page of customers changed after `cursor`, archived ones included (see `cursor.py`)."""
        endpoint = "GET Customer.json?timeStamp"
        try:
            state = PollCursor.decode(cursor)
        except (ValueError, TypeError):
            raise FatalError("the stored poll cursor is not one this adapter wrote", vendor=VENDOR,
                             endpoint=endpoint) from None
        position = state.keyset
        response = None
        if state.next_url:
            try:
                response = self.client.request("GET", self.client.checked_next(state.next_url, endpoint) or "",
                                               endpoint=endpoint)
            except FatalError as exc:
                if exc.http_status != 400:
                    raise
                # The vendor no longer accepts that page link: go on from the stored position instead.
                state.next_url = None
        rest_of_second = response is None and position.stamp is not None and position.last_id is not None
        if response is None:
            response = self.client.request("GET", "/Customer.json", endpoint=endpoint,
                                           params=self._change_query(position))
        body = self.client.json(response, endpoint)
        records = mapping.records_from_list(body, endpoint)
        following = self.client.checked_next(mapping.next_url(body, endpoint), endpoint)

        changes = []
        for record in records:
            stamp, when = mapping.record_stamp(record, endpoint)
            changes.append(Change(mapping.record_id(record, endpoint), stamp, when, digest(record)))
        handed = position.take(changes, vendor_time(response.headers.get("Date")), SETTLE)
        customers = [mapping.to_pos_customer(records[i], endpoint) for i in handed]

        if position.full or following is None:
            position.finish_stamp()  # the vendor ordered by second: nothing more is left at the position's
            # The rest of a second leads on to the seconds after it; fresh records left unread wait to be
            # read from the position again; any other walk is done.
            has_more = rest_of_second or position.full
            state.next_url = None
        elif rest_of_second:
            state.next_url, has_more = None, True  # ask again with the new last id: a filter, not a link
        else:
            state.next_url, has_more = following, True
        return ChangePage(customers=customers, next_cursor=state.encode(), has_more=has_more)

    @staticmethod
    def _change_query(position: KeysetCursor) -> dict[str, Any]:
        params: dict[str, Any] = {
            "archived": "true",  # archived ("deleted") customers are changes too
            "load_relations": mapping.LOAD_RELATIONS,
            "limit": PAGE_SIZE,
        }
        if position.stamp is None:
            return {**params, "sort": "timeStamp"}
        if position.last_id is not None:
            return {**params, "sort": "customerID", "timeStamp": position.stamp,
                    "customerID": f">,{position.last_id}"}
        return {**params, "sort": "timeStamp", "timeStamp": f">,{position.stamp}"}


def _national_digits(phone: str, region: str) -> str:
    """The digits staff would have typed: the national number without country code or trunk prefix."""
    try:
        parsed = phonenumbers.parse(phone, (region or "US").upper())
        digits = phonenumbers.national_significant_number(parsed)
    except phonenumbers.NumberParseException:
        digits = ""
    return digits or re.sub(r"\D", "", phone)


def _unique(customers: Any) -> list[PosCustomer]:
    by_id: dict[str, PosCustomer] = {}
    for customer in customers:
        by_id.setdefault(customer.pos_id, customer)
    return list(by_id.values())


def make_adapter(
    config: Mapping[str, Any],
    secrets: Mapping[str, Any],
    settings: TenantSettings,
    save_secrets: Callable[[dict[str, Any]], None] | None = None,
) -> LightspeedRAdapter:
    """Build the adapter from the tenant file's `pos` section (secrets split out) and its settings."""
    account_id = str(config.get("account_id") or "").strip()
    if not account_id.isdigit():
        raise FatalError("pos.account_id must be the Lightspeed account number", vendor=VENDOR)
    if not secrets.get("access_token") and not secrets.get("refresh_token"):
        raise FatalError("pos.access_token (or a refresh token) is required for Lightspeed R-Series", vendor=VENDOR)
    client = LightspeedRClient(
        account_id=account_id,
        secrets=secrets,
        base_url=config.get("base_url") or None,
        save_secrets=save_secrets,
    )
    return LightspeedRAdapter(client, settings)

