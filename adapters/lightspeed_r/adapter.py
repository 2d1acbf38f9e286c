"""`PosAdapter` for Lightspeed Retail R-Series (Retail API V3).

Request budget (benchmarked; tests hold it against the fake's request log): get by id 1, search by
email 1, search by phone 1, create 1, an empty `changes_since` poll 1. An update is 1 PUT, plus 1 GET
first when it touches email, phone or the address, because those vendor collections are replaced as a
whole and the entries possync does not own (a Work phone, a Secondary email) must be resent.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Mapping
from typing import Any

import phonenumbers

from adapters.base import Capabilities, ChangePage, PosAdapter, PosCustomer
from adapters.errors import FatalError
from adapters.lightspeed_r import mapping
from adapters.lightspeed_r.client import LightspeedRClient
from adapters.lightspeed_r.cursor import PollCursor
from adapters.lightspeed_r.errors import VENDOR
from models.customer import Customer
from models.normalise import email_key, phone_key
from models.tenants import TenantSettings

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
        self.client = client
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
        pos_id = str(pos_id)
        endpoint = "PUT Customer/{id}.json"
        current: dict[str, Any] | None = None
        if mapping.COLLECTION_FIELDS & set(changes) or not pos_id.isdigit():
            current = self._get_record(pos_id)
            if current is None:
                raise FatalError("the Lightspeed customer does not exist", vendor=VENDOR, endpoint=endpoint,
                                 http_status=404)
        body = mapping.update_body(changes, current, endpoint)
        if not body:
            existing = self.get_customer(pos_id) if current is None else mapping.to_pos_customer(current, endpoint)
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

    # --- change polling ----------------------------------------------------------------------
    def changes_since(self, cursor: str | None) -> ChangePage:
        endpoint = "GET Customer.json?timeStamp"
        try:
            state = PollCursor.decode(cursor)
        except (ValueError, TypeError):
            raise FatalError("the stored poll cursor is not one this adapter wrote", vendor=VENDOR,
                             endpoint=endpoint) from None
        body = None
        if state.next_url:
            try:
                body = self.client.get_json(self.client.checked_next(state.next_url, endpoint) or "", endpoint)
            except FatalError as exc:
                if exc.http_status != 400:
                    raise
                # The vendor no longer accepts that page link: restart from the stored timeStamp, which
                # `>=` plus the remembered ids make safe (nothing missed, nothing handed out twice).
                state.next_url = None
        if body is None:
            params: dict[str, Any] = {
                "sort": "timeStamp",
                "archived": "true",  # archived ("deleted") customers are changes too
                "load_relations": mapping.LOAD_RELATIONS,
                "limit": PAGE_SIZE,
            }
            if state.stamp:
                params["timeStamp"] = f">=,{state.stamp}"
            body = self.client.get_json("/Customer.json", endpoint, params)
        records = mapping.records_from_list(body, endpoint)
        following = self.client.checked_next(mapping.next_url(body, endpoint), endpoint)

        customers: list[PosCustomer] = []
        seen: set[str] = set()
        returned: list[tuple[str, str, Any]] = []
        for record in records:
            pos_id = mapping.record_id(record, endpoint)
            stamp, when = mapping.record_stamp(record, endpoint)
            # Seen = same id AND same content at that second: an edit within the second of the last poll
            # (an archive, a Contact change) keeps its timeStamp but is still a change to hand out.
            key = f"{pos_id}:{_digest(record)}"
            if pos_id in seen or state.already_seen(key, when):
                continue
            seen.add(pos_id)
            customers.append(mapping.to_pos_customer(record, endpoint))
            returned.append((key, stamp, when))
        for key, stamp, when in returned:
            state.advance(key, stamp, when)
        state.next_url = following
        return ChangePage(customers=customers, next_cursor=state.encode(), has_more=following is not None)


def _digest(record: Any) -> str:
    return hashlib.sha256(json.dumps(record, sort_keys=True, default=str).encode()).hexdigest()[:12]


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

