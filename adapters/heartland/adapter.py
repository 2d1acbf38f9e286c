"""`PosAdapter` for Heartland Retail: canonical customers in and out, Heartland's shapes hidden.

Request budget (benchmarks rely on it): get by id 1, search 1, create 1 without an address and 3 with
one (customer -> address -> PUT the address ids onto the customer; 4 when billing and shipping differ),
an idle change poll 1. Updates read the customer once first: addresses are separate records whose ids
only the customer knows, and the merchant's other custom fields must survive a `custom` write; given a
reading by id (`update_customer_as_read`, its record kept as `vendor_state`), that read is skipped; a
change-poll row carrying the linked addresses and `custom` is kept the same way (`_whole`).
"""

from __future__ import annotations

import copy
import dataclasses
import itertools
from collections.abc import Callable, Mapping
from typing import Any

from possync.adapters.base import Capabilities, ChangePage, PosAdapter, PosCustomer, RequestStats
from possync.adapters.change_cursor import Change, digest, id_order, vendor_time
from possync.adapters.errors import AdapterError, FatalError, MissingFieldsError, PartialCreateError
from possync.adapters.heartland import mapping
from possync.adapters.heartland.client import HeartlandClient, host_for
from possync.adapters.heartland.cursor import SETTLE, CursorError, PollState
from possync.adapters.heartland.errors import VENDOR
from possync.adapters.heartland.mapping import CustomFields, RecordError
from possync.models.customer import Address, Customer
from possync.models.tenants import TenantSettings

# [U] Relation names for `_include[]` that embed the billing and shipping addresses. If Heartland names them
# differently, the mapping still reads the always-embedded main `address` for whichever links point at it.
ADDRESS_INCLUDES = ("billing_address", "shipping_address")
DEFAULT_PER_PAGE = 100  # [C] the common page size; the official client defaults to 20
ADDRESS_KINDS = ("billing_address", "shipping_address")

CUSTOMER = "/customers/{id}"
CUSTOMERS = "/customers"
ADDRESSES = "/customers/{id}/addresses"
ADDRESS = "/customers/{id}/addresses/{address_id}"


def _ep(method: str, template: str) -> str:
    return f"{method} /api{template}"


class HeartlandAdapter(PosAdapter):
    kind = "heartland"
    change_rows_are_readings = True  # a row is kept only when it carries its addresses and `custom` (`_whole`)

    def __init__(
        self,
        client: HeartlandClient,
        custom_fields: CustomFields | None = None,
        *,
        per_page: int = DEFAULT_PER_PAGE,
    ) -> None:
        self.client: HeartlandClient = client
        self.fields = custom_fields or CustomFields()
        self.capabilities: Capabilities = mapping.capabilities_for(self.fields)
        self.per_page = per_page
        self.stats: RequestStats = client.stats  # the same object: counts every request this adapter makes

    # --- reads ---------------------------------------------------------------------------------------
    def get_customer(self, pos_id: str) -> PosCustomer | None:
        record = self._fetch(pos_id)
        return None if record is None else self._read(record, _ep("GET", CUSTOMER), keep=True)

    def search_by_email(self, email: str) -> list[PosCustomer]:
        variants = mapping.email_variants(email)
        if not variants:
            return []
        return self._search({"email": variants[0] if len(variants) == 1 else {"$in": variants}})

    def search_by_phone(self, phone: str) -> list[PosCustomer]:
        """Exact-text search on the customer's phone field over the usual spellings of the number."""
        if not mapping.CUSTOMER_PHONE_FIELD:
            return []
        variants = mapping.phone_variants(phone)
        if not variants:
            return []
        return self._search({mapping.CUSTOMER_PHONE_FIELD: {"$in": variants}})

    def _search(self, filters: Mapping[str, Any]) -> list[PosCustomer]:
        """One request: the first page, oldest id first (rule 11 links to the oldest match)."""
        endpoint = _ep("GET", CUSTOMERS)
        page = self.client.list_page(
            CUSTOMERS, endpoint, filters=filters, per_page=self.per_page, sort=("id",), include=ADDRESS_INCLUDES
        )
        return [self._read(record, endpoint) for record in page.results]

    def count_customers(self) -> int | None:
        """The list's `total` from a one-record page (every customer is listed, inactive ones too)."""
        return self.client.list_page(CUSTOMERS, _ep("GET", CUSTOMERS), per_page=1).total

    def changes_since(self, cursor: str | None) -> ChangePage:
        """One page of customers changed since `cursor`, archived and deleted ones included (`cursor.py`)."""
        try:
            state = PollState.decode(cursor)
        except CursorError as exc:
            raise FatalError(str(exc), vendor=VENDOR, endpoint="changes_since") from None
        endpoint = _ep("GET", CUSTOMERS)
        position = state.keyset
        page = self.client.list_page(CUSTOMERS, endpoint, filters=state.filter(), page=1, per_page=self.per_page,
                                     sort=("updated_at", "id"), include=ADDRESS_INCLUDES)
        changes = [self._change(record, endpoint) for record in page.results]
        self._check_order(changes, endpoint)
        stamp_read = False
        if state.by_id:  # only the rest of the position's stamp: later ones are filtered by id here
            at = position.when
            kept = [c for c in changes if c.when == at]
            stamp_read, changes = len(kept) < len(changes) or not page.has_more, kept
        start = (position.stamp, position.last_id)
        handed = position.take(changes, vendor_time(page.served_at), SETTLE)
        customers = [self._read(page.results[i], endpoint, keep=_whole(page.results[i])) for i in handed]

        if state.by_id:
            if stamp_read:
                position.finish_stamp()
                state.by_id = False
            has_more = True  # the stamps after it are still to read
        elif position.reached_fresh or not page.has_more:
            position.finish_stamp()  # sorted by stamp: nothing more is left at the position's stamp
            has_more = page.has_more or position.full  # fresh records left unread: read from the position again
        else:
            # A page all at one stamp: the rest of that stamp goes by id, never by page number.
            state.by_id = position.last_id is not None and all(c.when == position.when for c in changes)
            if not state.by_id and (position.stamp, position.last_id) == start:
                raise self.client.bad_field(endpoint, "results", "repeat a whole page already read, so the "
                                            "change cursor cannot move (did Heartland's updated_at filter change?)")
            has_more = True
        return ChangePage(customers=customers, next_cursor=state.encode(), has_more=has_more)

    def _change(self, record: Mapping[str, Any], endpoint: str) -> Change:
        stamp = record.get("updated_at")
        try:
            when = mapping.timestamp(stamp, "updated_at")
        except RecordError:
            when = None
        if when is None or not isinstance(stamp, str):
            raise self.client.bad_field(endpoint, "updated_at")
        return Change(str(record.get("id")), stamp, when, digest(record))

    def _check_order(self, changes: list[Change], endpoint: str) -> None:
        """The cursor relies on `sort[]=updated_at&sort[]=id` [U]: say so rather than skip records."""
        keys = [(c.when, id_order(c.pos_id)) for c in changes]
        if any(a > b for a, b in itertools.pairwise(keys)):
            raise self.client.bad_field(endpoint, "results", "are not in (updated_at, id) order; the change "
                                        "poll needs Heartland to sort on both")

    # --- writes --------------------------------------------------------------------------------------
    def create_customer(self, customer: Customer) -> PosCustomer:
        """Customer, then its address(es), then the address ids on the customer (gotcha 22).

        Email and complete addresses are checked before the first request, so a customer Heartland would
        refuse is never left half-created (SPEC rule 22). If an address step fails after the customer
        exists, `PartialCreateError` carries its id so a retry can find and finish it.
        """
        if problems := mapping.create_problems(customer):
            raise MissingFieldsError(mapping.describe_problems(problems), vendor=VENDOR,
                                     endpoint=_ep("POST", CUSTOMERS))
        addresses = {kind: _present(getattr(customer, kind)) for kind in ADDRESS_KINDS}
        endpoint = _ep("POST", CUSTOMERS)
        body = mapping.customer_body(customer, self.fields)
        response = self.client.request("POST", CUSTOMERS, endpoint=endpoint, json=body)
        pos_id = self.client.created_id(response, endpoint)
        record: dict[str, Any] = {
            "id": int(pos_id),
            "active": True,
            "custom": {},
            **body,
            "address_id": None,
            "billing_address_id": None,
            "shipping_address_id": None,
        }
        if any(addresses.values()):
            try:
                self._create_addresses(pos_id, record, customer, addresses)
            except AdapterError as exc:
                raise PartialCreateError(pos_id, exc) from exc
        return self._read(record, endpoint)

    def _create_addresses(
        self, pos_id: str, record: dict[str, Any], customer: Customer, addresses: Mapping[str, Address | None]
    ) -> None:
        made: dict[Address, dict[str, Any]] = {}
        links: dict[str, Any] = {}
        for kind, address in addresses.items():
            if address is None:
                continue
            if address not in made:
                made[address] = self._post_address(pos_id, address, customer.first_name, customer.last_name,
                                                   customer.phone)
            links[f"{kind}_id"] = made[address]["id"]
            record[kind] = made[address]
        links["address_id"] = links.get("billing_address_id") or links.get("shipping_address_id")
        record["address"] = record.get("billing_address") or record.get("shipping_address")
        self.client.request("PUT", CUSTOMER.format(id=pos_id), endpoint=_ep("PUT", CUSTOMER), json=links)
        record.update(links)

    def _post_address(
        self, pos_id: str, address: Address, first: str | None, last: str | None, phone: str | None
    ) -> dict[str, Any]:
        endpoint = _ep("POST", ADDRESSES)
        body = mapping.address_body(address, first, last, phone)
        response = self.client.request("POST", ADDRESSES.format(id=pos_id), endpoint=endpoint, json=body)
        return {"id": int(self.client.created_id(response, endpoint)), **body}

    def update_customer(self, pos_id: str, changes: Mapping[str, Any]) -> PosCustomer:
        """Write only the canonical fields in `changes`; returns the customer as it now stands.

        A None address is ignored (possync never removes a POS address); other None values blank the
        field. Fields this tenant cannot hold (unmapped custom fields) are silently left out.
        """
        return self._update(pos_id, changes, None)

    def update_customer_as_read(self, read: PosCustomer, changes: Mapping[str, Any]) -> PosCustomer:
        """The reading by id carries the record (address ids, `custom`): no GET before the writes."""
        record = read.vendor_state if isinstance(read.vendor_state, Mapping) else None
        return self._update(read.pos_id, changes, record)

    def _update(self, pos_id: str, changes: Mapping[str, Any], record: Mapping[str, Any] | None) -> PosCustomer:
        unknown = sorted(set(changes) - set(Customer.SYNCED_FIELDS))
        if unknown:
            raise ValueError(f"not canonical fields: {', '.join(unknown)}")
        for kind in ADDRESS_KINDS:
            address = _present(changes.get(kind))
            missing = mapping.address_missing_fields(address, kind) if address is not None else []
            if missing:
                raise FatalError(f"Heartland needs a complete address: {', '.join(missing)} missing",
                                 vendor=VENDOR, endpoint=_ep("PUT", ADDRESS))
        record = record if record is not None else self._fetch(pos_id)
        if record is None:
            raise FatalError("the Heartland record does not exist", vendor=VENDOR,
                             endpoint=_ep("GET", CUSTOMER), http_status=404)
        current = self._read(record, _ep("GET", CUSTOMER))
        record = copy.deepcopy(dict(record))
        body: dict[str, Any] = {}
        for name in ("first_name", "last_name", "email"):
            if name in changes:
                body[name] = changes[name]
        phone_changed = "phone" in changes
        if phone_changed and mapping.CUSTOMER_PHONE_FIELD:
            body[mapping.CUSTOMER_PHONE_FIELD] = changes["phone"]
        custom_changes = mapping.custom_values(changes, self.fields)
        if custom_changes:
            # Send the whole object: whether a PUT merges or replaces `custom` is unverified [U].
            body["custom"] = {**(record.get("custom") or {}), **custom_changes}

        names = (
            changes.get("first_name", current.customer.first_name),
            changes.get("last_name", current.customer.last_name),
        )
        phone = changes["phone"] if phone_changed else current.customer.phone
        wrote_main = self._write_addresses(pos_id, record, changes, body, names, phone)
        if phone_changed and not wrote_main:
            self._put_main_phone(pos_id, record, changes["phone"])
        if body:
            response = self.client.request("PUT", CUSTOMER.format(id=pos_id), endpoint=_ep("PUT", CUSTOMER), json=body)
            answer = _json_or_none(response)
            stamp = answer.get("updated_at") if isinstance(answer, Mapping) else None
            if isinstance(stamp, str):
                record["updated_at"] = stamp
            record.update(body)
        return self._read(record, _ep("PUT", CUSTOMER), keep=True)

    def _write_addresses(
        self,
        pos_id: str,
        record: dict[str, Any],
        changes: Mapping[str, Any],
        body: dict[str, Any],
        names: tuple[str | None, str | None],
        phone: str | None,
    ) -> bool:
        """Write changed addresses and put changed link ids into `body`. Returns True when the main
        address (`address_id`, where the phone lives) was written with the current phone.

        An address record shared with a kind that is not changing is never edited in place (that would
        move the other kind too): a new address is created and linked instead. The main address follows
        billing, as the Shopify default address is the POS main (billing) address (SPEC rule 16).
        """
        wanted = {k: v for k in ADDRESS_KINDS if (v := _present(changes.get(k))) is not None}
        if not wanted:
            return False
        main_id = mapping.optional_id(record.get("address_id"), "address_id")
        stored = {k: mapping.optional_id(record.get(f"{k}_id"), f"{k}_id") for k in ADDRESS_KINDS}
        ids = dict(stored)
        if ids["billing_address"] is None:
            ids["billing_address"] = main_id  # the mapping reads the main address as billing too
        groups: dict[Address, list[str]] = {}  # kinds that end up sharing one address are written once
        for kind, address in wanted.items():
            groups.setdefault(address, []).append(kind)
        wrote_main = False
        for address, kinds in groups.items():
            current = {ids[k] for k in kinds}
            others = {ids[k] for k in ADDRESS_KINDS if k not in kinds}
            target = next(iter(current)) if len(current) == 1 else None
            if target is not None and target not in others:
                obj = self._put_address(pos_id, target, address, names, phone if target == main_id else None)
            else:
                obj = self._post_address(pos_id, address, names[0], names[1], phone)
                new_id = str(obj["id"])
                # The main address moves to the new record when it was this kind's own (or billing's).
                owned = main_id in current and (main_id not in others or "billing_address" in kinds)
                if main_id is None or owned:
                    main_id = new_id
                    body["address_id"] = obj["id"]
                for kind in kinds:
                    ids[kind] = new_id
            for kind in kinds:
                record[kind] = obj
                if stored[kind] != ids[kind]:
                    body[f"{kind}_id"] = int(ids[kind])  # type: ignore[arg-type]
            if str(obj["id"]) == main_id:
                record["address"] = obj
                wrote_main = True
        return wrote_main

    def _put_address(
        self,
        pos_id: str,
        address_id: str,
        address: Address,
        names: tuple[str | None, str | None],
        phone: str | None,
    ) -> dict[str, Any]:
        body = mapping.address_body(address, names[0], names[1], phone)
        path = ADDRESS.format(id=pos_id, address_id=address_id)
        self.client.request("PUT", path, endpoint=_ep("PUT", ADDRESS), json=body)
        return {"id": int(address_id), **body}

    def _put_main_phone(self, pos_id: str, record: dict[str, Any], phone: str | None) -> None:
        """The phone lives on the main address too; keep it in step when only the phone changed."""
        main_id = mapping.optional_id(record.get("address_id"), "address_id") or mapping.optional_id(
            record.get("billing_address_id"), "billing_address_id"
        )
        if main_id is None:
            return
        path = ADDRESS.format(id=pos_id, address_id=main_id)
        self.client.request("PUT", path, endpoint=_ep("PUT", ADDRESS), json={mapping.ADDRESS_PHONE_FIELD: phone})
        for key in ("address", "billing_address", "shipping_address"):
            obj = record.get(key)
            if isinstance(obj, Mapping) and str(obj.get("id")) == main_id:
                record[key] = {**obj, mapping.ADDRESS_PHONE_FIELD: phone}

    # --- helpers -------------------------------------------------------------------------------------
    def _fetch(self, pos_id: str) -> Mapping[str, Any] | None:
        """GET one customer with its addresses embedded; None when Heartland says 404."""
        pos_id = str(pos_id).strip()
        if not pos_id.isdigit():
            return None  # Heartland ids are integers: nothing else can exist
        endpoint = _ep("GET", CUSTOMER)
        try:
            response = self.client.request(
                "GET",
                CUSTOMER.format(id=pos_id),
                endpoint=endpoint,
                params=[("_include[]", rel) for rel in ADDRESS_INCLUDES],
            )
        except FatalError as exc:
            if exc.http_status == 404:
                return None
            raise
        record = self.client.json(response, endpoint)
        if not isinstance(record, Mapping):
            raise self.client.bad_field(endpoint, "customer", "is not an object")
        return record

    def _read(self, record: Any, endpoint: str, *, keep: bool = False) -> PosCustomer:
        """`keep`: the record is whole (read by id with its addresses, or as just written), so an update
        may start from it (`vendor_state`)."""
        try:
            customer = mapping.customer_from_record(record, self.fields)
        except RecordError as exc:
            raise self.client.bad_field(endpoint, exc.field, exc.problem) from None
        return dataclasses.replace(customer, vendor_state=copy.deepcopy(dict(record))) if keep else customer


def _whole(record: Mapping[str, Any]) -> bool:
    """Whether a list row carries what an update resends: `custom` and every linked address embedded.

    pos-apis.md 3.3 lists `address` and `custom` on the customer object, but whether the list endpoint
    embeds them is unverified; a row without them is kept as a partial reading (the update reads by id).
    """
    if not isinstance(record.get("custom"), Mapping):
        return False
    main = record.get("address")
    for kind in ("address", *ADDRESS_KINDS):
        link = record.get(f"{kind}_id")
        if link is None:
            continue
        embedded = [obj for obj in (record.get(kind), main) if isinstance(obj, Mapping)]
        if not any(str(obj.get("id")) == str(link) for obj in embedded):
            return False
    return True


def _present(address: Address | None) -> Address | None:
    return None if address is None or address.is_empty() else address


def _json_or_none(response: Any) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def make_adapter(
    config: Mapping[str, Any],
    secrets: Mapping[str, Any],
    settings: TenantSettings,
    save_secrets: Callable[[dict[str, Any]], None] | None = None,
) -> HeartlandAdapter:
    """Build the tenant's adapter. `save_secrets` is unused: Heartland API tokens do not rotate."""
    try:
        fields = CustomFields.from_settings(settings.heartland_custom_fields)
    except ValueError as exc:
        raise FatalError(str(exc), vendor=VENDOR) from None
    client = HeartlandClient(host_for(config), str(secrets.get("access_token") or ""))
    return HeartlandAdapter(client, fields)
