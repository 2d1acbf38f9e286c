"""The five steps of a Shopify -> POS sync, and the one step of a POS -> Shopify push.

Each is a plain function of a `StepContext` returning what it found (merged into job.context). The
decisions are the rules in `possync.tasks.rules`; this module only fetches, calls them, and writes.
"""

from __future__ import annotations

import math
import time
from datetime import UTC
from typing import Any

from possync.adapters.base import Capabilities, PosAdapter, PosCustomer
from possync.adapters.errors import AdapterError, ConfigurationError, FatalError, MissingFieldsError, PartialCreateError
from possync.models import links, military, pos_index
from possync.models.customer import Customer
from possync.models.near_matches import record_near_match
from possync.models.normalise import email_key, phone_key
from possync.models.shopify_values import ShopifyCustomer
from possync.models.tables import CustomerLink, PosImport, PosKind, PosStatus
from possync.models.tenants import TenantSettings
from possync.tasks import poll, readings, serial
from possync.tasks.clients import pos_adapter_for, shopify_client_for
from possync.tasks.onboarding import index_complete, read_import, wait_for_import
from possync.tasks.rules import echo
from possync.tasks.rules.consent import merge_consent
from possync.tasks.rules.diff import diff_for_update
from possync.tasks.rules.heartland import uses_default_customer
from possync.tasks.rules.links import LinkVerdict, check_link
from possync.tasks.rules.mapping import desired_pos_customer
from possync.tasks.rules.matching import MatchResult, NearMatch, contradicts, find_match
from possync.tasks.rules.pos_to_shopify import shopify_changes_from_pos, shopify_tags_from_pos
from possync.tasks.runner import StepContext, StepFinished
from possync.worker.locks import customer_locks
from possync.worker.runtime import redis_client
from possync.worker.settings import get_settings

CONSENT_FIELDS = ("email_consent", "sms_consent")
# Set (and committed) just before a POS create is sent. A step that finds it set is running again after
# a create whose answer was never recorded (worker killed, timeout, 5xx): the vendor may hold the customer.
CREATE_SENT = "create_sent"
# When the POS customer a step holds was read (epoch s). A write relies on a reading only this fresh:
# older means a wait came between, and the customer may have been archived meanwhile (rule 37).
POS_READ_AT = "pos_read_at"
POS_VENDOR_STATE = "pos_vendor_state"  # the vendor's parts of the same reading as `pos_current` (rule 37 alike)
FRESH_READ_SECONDS = 2.0  # without a complete index to catch up (rule 37, `_known_pos_customer`)
# The matched POS record's email contradicts the Shopify customer's (rule 10).
CONTRADICTED = "contradicted"
# What rule 10's `link` setting never writes over on another person's record, in either direction.
PERSONAL_FIELDS = ("first_name", "last_name", "email", "phone")
# POS -> Shopify: the POS customer's phone is another Shopify account's (rule 10), so a new one goes without it.
PHONE_TAKEN = "phone_taken"


def _shopify_customer(ctx: StepContext) -> ShopifyCustomer | None:
    data = ctx.job.context.get("shopify_customer")
    return serial.shopify_customer_from_json(data) if data else None


# --- step 1 ------------------------------------------------------------------------------------
def fetch_customer(ctx: StepContext) -> dict[str, Any]:
    """Read the customer fresh from Shopify (refund -> its order's customer; no customer -> fallback)."""
    context = ctx.job.context
    topic = context.get("topic", "")
    shopify = shopify_client_for(ctx.tenant)
    order = serial.order_from_json(context.get("order"))
    if topic == "refunds/create":
        order = shopify.get_order(str(context["order_id"]))
        if order is None:
            raise FatalError(f"order {context['order_id']} of the refund no longer exists in Shopify")
    customer_id = order.customer.id if order and order.customer else context.get("customer_id")
    result: dict[str, Any] = {"order": serial.order_to_json(order)}
    if not customer_id:
        return {**result, "no_customer": True}
    customer = shopify.get_customer(str(customer_id))
    if customer is None:
        raise FatalError(f"Shopify customer {customer_id} no longer exists")
    ctx.job.subject = customer.id
    link = links.get_link(ctx.session, ctx.tenant.id, customer.id) if topic == "customers/update" else None
    if echo.is_shopify_echo(link, customer.customer):
        raise StepFinished("echo")  # rule 5: possync's own write to Shopify coming back
    return {**result, "shopify_customer": serial.shopify_customer_to_json(customer)}


# --- step 2 ------------------------------------------------------------------------------------
def _use(pos: PosCustomer, via: str, read_at: float) -> dict[str, Any]:
    return {"pos_id": pos.pos_id, "pos_current": pos.customer.to_json(), POS_VENDOR_STATE: pos.vendor_state,
            "match_via": via, POS_READ_AT: read_at}


def _desired(ctx: StepContext, customer: ShopifyCustomer, adapter: PosAdapter) -> Customer:
    order = serial.order_from_json(ctx.job.context.get("order"))
    return desired_pos_customer(customer, order=order, account_name=ctx.tenant.account_name,
                                capabilities=adapter.capabilities)


def _pos_import(ctx: StepContext) -> PosImport | None:
    """The tenant's import row, read once per run (every step of the run asks whether it is complete)."""
    if "pos_import" not in ctx.held:
        ctx.held["pos_import"] = read_import(ctx.session, ctx.tenant.id)
    return ctx.held["pos_import"]


def _arrived(ctx: StepContext) -> float:
    """When this job's event arrived (epoch s): the POS index must hold every POS change made before it."""
    created = ctx.job.created_at
    if created is None:
        return time.time()
    return (created if created.tzinfo else created.replace(tzinfo=UTC)).timestamp()


def _synced_already(link: CustomerLink | None, desired: Customer) -> bool:
    """Nothing to send: the link is active and this is what possync last synced to it.

    With the index current (its link statuses too), a repeat order of an unchanged customer then costs
    no POS request of its own. The POS side's own changes are not lost by skipping: the change poll
    sends them to Shopify (rule 2).
    """
    return (link is not None and link.pos_status == PosStatus.ACTIVE.value
            and link.synced_fingerprint is not None and link.synced_fingerprint == desired.fingerprint())


def resolve(ctx: StepContext, adapter: PosAdapter, customer: ShopifyCustomer) -> dict[str, Any]:
    """Link first (checked, rule 12), else match (rules 6-11). Shared by the fallback step."""
    region = ctx.tenant.settings.default_phone_region
    link = links.get_link(ctx.session, ctx.tenant.id, customer.id)
    complete = index_complete(_pos_import(ctx))
    if complete and _synced_already(link, desired := _desired(ctx, customer, adapter)):
        # Already synced: one shared catch-up tells whether the POS customer is still active (rule 12).
        poll.catch_up(ctx.session, ctx.tenant, adapter, since=_arrived(ctx))
        link = links.get_link(ctx.session, ctx.tenant.id, customer.id)
        if link is not None and _synced_already(link, desired):
            raise StepFinished("unchanged", {"pos_id": link.pos_customer_id})
    if link is not None:
        if (got := _reading(ctx, adapter, customer, link.pos_customer_id)) is None:
            return _unread(link.pos_customer_id, "link", bool(link.contradicted))
        pos, read_at = got
        if check_link(pos, adapter.capabilities) is LinkVerdict.USE and pos is not None:
            pos_index.index_customers(ctx.session, ctx.tenant.id, [pos], region)
            return {**_use(pos, "link", read_at), CONTRADICTED: bool(link.contradicted)}
        links.drop_link(ctx.session, ctx.tenant.id, customer.id)
        if pos is not None:
            pos_index.index_customers(ctx.session, ctx.tenant.id, [pos], region)
        else:
            pos_index.mark_status(ctx.session, ctx.tenant.id, link.pos_customer_id, PosStatus.DELETED)
    found: dict[str, Any] = {"pos_id": None, "pos_current": None, "match_via": None}
    # Once the tenant's index holds its whole POS (rule 34), a miss needs no vendor search: the upsert
    # catches the index up before it creates (rule 36), one request instead of a search per key.
    searcher = None if complete else adapter
    for _ in range(3):  # an index hit the POS says is no longer active is re-indexed, then matched again
        match = _find(ctx, customer, searcher)
        found["candidates"] = match.candidates
        if not match.pos_id:
            break
        if (got := _reading(ctx, adapter, customer, match.pos_id)) is None:
            return {**found, **_unread(match.pos_id, match.via or "index", match.contradicted)}
        pos, read_at = got
        if pos is not None and pos.status is PosStatus.ACTIVE:
            return {**found, **_use(pos, match.via or "index", read_at), CONTRADICTED: match.contradicted}
        if pos is None:
            pos_index.mark_status(ctx.session, ctx.tenant.id, match.pos_id, PosStatus.DELETED)
        else:
            pos_index.index_customers(ctx.session, ctx.tenant.id, [pos], region)
    return found


def _reading(ctx: StepContext, adapter: PosAdapter, customer: ShopifyCustomer,
             pos_id: str) -> tuple[PosCustomer | None, float] | None:
    """The POS customer by id and when it was read; None: leave the reading to the upsert, under the lock.

    With the index complete, a reading another job took or wrote moments ago is this job's own (the
    catch-up since its time guards a write on it, rule 37), else the record the index keeps once caught
    up, and while another job of the same customer is on its way, that job reads: the upsert here, after
    it, usually finds nothing left to write.
    """
    if index_complete(_pos_import(ctx)):
        kept = readings.recall(ctx.tenant.id, pos_id)
        if kept is not None and kept.pos.status is PosStatus.ACTIVE:
            return kept.pos, kept.at
        if (indexed := _indexed_reading(ctx, adapter, pos_id)) is not None:
            return indexed
        if not readings.claim(ctx.tenant.id, customer.id, ctx.job.id):
            return None
    pos = adapter.get_customer(pos_id)
    read_at = time.time()
    if pos is not None:
        readings.remember(ctx.tenant.id, pos, read_at)
    return pos, read_at


def _indexed_reading(ctx: StepContext, adapter: PosAdapter, pos_id: str) -> tuple[PosCustomer, float] | None:
    """The whole record the import or the change poll kept in the index, once a catch-up begun after this
    job's event has run: every POS change before that catch-up began is then in the index, so the record
    is as current as a read by id then, and that is its time (a write on it waits for a catch-up begun
    later, rule 37, as after a read by id). None where the index keeps no whole record: read by id."""
    if pos_index.indexed_reading(ctx.session, ctx.tenant.id, pos_id) is None:
        return None  # no catch-up for nothing: without a kept record the read by id is needed anyway
    poll.catch_up(ctx.session, ctx.tenant, adapter, since=_arrived(ctx))
    as_of = poll.index_current_since(ctx.tenant.id)  # taken before the row: the row is at least this fresh
    pos = pos_index.indexed_reading(ctx.session, ctx.tenant.id, pos_id)
    # Read the instant that catch-up began: the write needs one begun after it, not the same one again.
    return None if pos is None else (pos, math.nextafter(as_of, math.inf))


def _unread(pos_id: str, via: str, contradicted: bool) -> dict[str, Any]:
    """A POS id without a reading: the upsert reads it under the customer lock if anything is left to write."""
    return {"pos_id": pos_id, "pos_current": None, POS_VENDOR_STATE: None, POS_READ_AT: None, "match_via": via,
            CONTRADICTED: contradicted}


def _find(ctx: StepContext, customer: ShopifyCustomer, searcher: PosAdapter | None) -> MatchResult:
    """Matching under the tenant's settings; an ambiguous match and a near match are recorded (rules 10, 11)."""
    settings = ctx.tenant.settings
    found = find_match(customer.customer, order=settings.customer_matching, region=settings.default_phone_region,
                       session=ctx.session, tenant_id=ctx.tenant.id, adapter=searcher,
                       conflicting=settings.conflicting_match)
    ctx.job.ambiguous = found.ambiguous
    if found.near_match is not None:
        _note_near_match(ctx, customer.id, found.near_match, shown={"pos_id": found.near_match.pos_id})
    return found


def _note_near_match(ctx: StepContext, shopify_id: str, near: NearMatch, shown: dict[str, str]) -> None:
    """Record a near match for the operator (rule 10) and show it on the job, `shown` naming the other side."""
    decision = ctx.tenant.settings.conflicting_match
    record_near_match(ctx.session, tenant_id=ctx.tenant.id, direction=ctx.job.direction, shopify_id=shopify_id,
                      pos_id=near.pos_id, matched_on=near.matched_on, differs=near.differs, decision=decision,
                      job_id=ctx.job.id)
    ctx.job.context = {**ctx.job.context, "near_match": {
        **shown, "matched_on": near.matched_on, "differs": near.differs, "decision": decision}}


def _oldest(customers: list[ShopifyCustomer]) -> ShopifyCustomer:
    """The oldest Shopify customer (lowest numeric id) of several that match (rule 11's order, in reverse)."""
    return min(customers, key=lambda c: int(c.id) if c.id.isdigit() else c.id)


def resolve_match(ctx: StepContext) -> dict[str, Any]:
    customer = _shopify_customer(ctx)
    if customer is None:
        return {}
    return resolve(ctx, pos_adapter_for(ctx.tenant), customer)


# --- step 3 ------------------------------------------------------------------------------------
def default_customer_fallback(ctx: StepContext) -> dict[str, Any]:
    """Heartland orders with no (or incomplete POS-order) customer go to the default customer (rule 23)."""
    context = ctx.job.context
    order = serial.order_from_json(context.get("order"))
    if order is None or not uses_default_customer(order, ctx.tenant.pos_kind):
        if context.get("no_customer"):
            raise StepFinished("no_customer")
        return {}
    default_id = ctx.tenant.settings.default_customer_id
    if not default_id:
        raise ConfigurationError(
            "this Heartland order needs the default customer, but settings.default_customer_id is not set"
        )
    link = links.get_link(ctx.session, ctx.tenant.id, default_id)
    if link is not None:
        raise StepFinished("default_customer", {"pos_id": link.pos_customer_id, "default_customer": True})
    customer = shopify_client_for(ctx.tenant).get_customer(default_id)
    if customer is None:
        raise ConfigurationError(f"the default customer {default_id} does not exist in Shopify")
    adapter = pos_adapter_for(ctx.tenant)
    return {"shopify_customer": serial.shopify_customer_to_json(customer), "default_customer": True,
            **resolve(ctx, adapter, customer)}


# --- step 4 ------------------------------------------------------------------------------------
def _lock_keys(customer: ShopifyCustomer, region: str) -> list[str]:
    keys = [f"shopify:{customer.id}"]
    if key := email_key(customer.customer.email):
        keys.append(f"email:{key}")
    if key := phone_key(customer.customer.phone, region):
        keys.append(f"phone:{key}")
    return keys


def upsert_pos_customer(ctx: StepContext) -> dict[str, Any]:
    """Create or update the POS customer, serialised per customer so nothing is created twice (rule 33).

    Under the customer's locks: the link another job saved meanwhile is used; a miss is matched again
    against the index after catching it up with the POS (rule 36) before anything is created; a linked
    customer found archived or deleted is dropped and matched again in this same job (rule 37); and a
    write never relies on a reading older than `FRESH_READ_SECONDS` (a wait came between them).
    """
    customer = _shopify_customer(ctx)
    if customer is None:
        return {}
    context = ctx.job.context
    tenant = ctx.tenant
    region = tenant.settings.default_phone_region
    adapter = pos_adapter_for(tenant)
    caps = adapter.capabilities
    desired = _desired(ctx, customer, adapter)
    _check_military_address(ctx, desired)
    settings = get_settings()
    with customer_locks(redis_client(), settings.redis_key_prefix, tenant.name, _lock_keys(customer, region)):
        pos_id, current = _known_pos_customer(ctx, adapter)
        vendor_state = context.get(POS_VENDOR_STATE)  # used only with `current`, the same reading
        link = links.get_link(ctx.session, tenant.id, customer.id)
        if link is not None and _synced_already(link, desired) and not context.get(CREATE_SENT):
            # Another job synced this very content, consent included, meanwhile: nothing is left to write, and
            # this job's reading predates that write, so no later step may rely on it either.
            raise StepFinished("unchanged", {"pos_id": link.pos_customer_id})
        if link is not None and link.pos_customer_id != pos_id:
            pos_id, current = link.pos_customer_id, None  # another job linked it meanwhile
        contradicted = bool(link.contradicted) if link is not None and link.pos_customer_id == pos_id \
            else bool(context.get(CONTRADICTED))
        read_at = float(context.get(POS_READ_AT) or 0.0)
        if current is not None and pos_id is not None and (kept := _newer_reading(ctx, pos_id, read_at)) is not None:
            # possync wrote this customer (or another job read it) after this job's reading, which is stale:
            # the newer one is current. Nothing left to write on it costs nothing; else read again, here.
            current, vendor_state, read_at = kept.pos.customer, kept.pos.vendor_state, kept.at
            if _changes(customer.customer, desired, current, contradicted, tenant.settings, caps)[0]:
                current = None
        caught_up = False
        for _ in range(3):  # an archived or deleted record is dropped and the customer matched again
            if pos_id is None:  # (an ambiguous match names its oldest candidate: never None on the first pass)
                again = _match_under_lock(ctx, customer, adapter, caught_up=caught_up)
                pos_id, contradicted, caught_up = again.pos_id, again.contradicted, True
            if pos_id is None or current is not None:
                break
            fetched = adapter.get_customer(pos_id)
            read_at = time.time()
            if fetched is not None:
                readings.remember(tenant.id, fetched, read_at)
            if fetched is not None and fetched.status is PosStatus.ACTIVE:
                current, vendor_state = fetched.customer, fetched.vendor_state
                break
            _forget_pos_customer(ctx, customer.id, pos_id, fetched)
            pos_id = None
        protected, consent_written = False, []
        if pos_id is None:
            wait_for_import(_pos_import(ctx))  # creates wait for the tenant's POS import (rule 34)
            written, outcome = _create(ctx, customer, adapter, desired), "created"
        else:
            assert current is not None
            changes, protected = _changes(customer.customer, desired, current, contradicted, tenant.settings, caps)
            read = PosCustomer(pos_id=pos_id, status=PosStatus.ACTIVE, customer=current, vendor_state=vendor_state)
            if changes:
                written = adapter.update_customer_as_read(read, changes)
                outcome = "updated"
                consent_written = sorted(k for k in changes if k in CONSENT_FIELDS)
            else:
                written = read
                outcome = "unchanged"
            if context.get(CREATE_SENT):
                outcome = "created"  # this job's own create, finished (or confirmed) after an interruption
        written_at = time.time() if outcome != "unchanged" else read_at
        pos_index.index_customers(ctx.session, tenant.id, [written], region)
        links.save_link(ctx.session, tenant.id, customer.id, written.pos_id,
                        pos_fingerprint=echo.pos_fingerprint(written.customer),
                        synced_fingerprint=desired.fingerprint(), contradicted=protected)
        if outcome != "unchanged":
            readings.remember(tenant.id, written, written_at)
        result = {**_result(written, written_at), **({"consent_written": consent_written} if consent_written else {})}
        return _finish(ctx, result, outcome)  # committed before the locks are released: the next job sees the link


def _changes(shopify: Customer, desired: Customer, current: Customer, contradicted: bool, settings: TenantSettings,
             caps: Capabilities) -> tuple[dict[str, Any], bool]:
    """What the upsert writes on `current`, and whether rule 10's `link` protects the record."""
    changes = diff_for_update(desired, current, update_names=settings.update_names, capabilities=caps,
                              region=settings.default_phone_region)
    # Consent rides in the same write (the consent step then finds nothing left): one request, not two.
    changes = {k: v for k, v in changes.items() if k not in CONSENT_FIELDS}
    changes |= consent_changes(shopify, current, caps)
    if protected := contradicted and settings.conflicting_match == "link":
        # Rule 10's `link`: another person's record keeps its own contact details and names.
        changes = {k: v for k, v in changes.items() if k not in PERSONAL_FIELDS}
    return changes, protected


def _newer_reading(ctx: StepContext, pos_id: str, read_at: float) -> readings.Reading | None:
    """A kept reading of the customer, active, taken after this job's own (which it then replaces)."""
    kept = readings.recall(ctx.tenant.id, pos_id)
    if kept is None or kept.at <= read_at or kept.pos.status is not PosStatus.ACTIVE:
        return None
    return kept


def _result(pos: PosCustomer, read_at: float) -> dict[str, Any]:
    return {"pos_id": pos.pos_id, "pos_current": pos.customer.to_json(), POS_VENDOR_STATE: pos.vendor_state,
            POS_READ_AT: read_at}


def _check_military_address(ctx: StepContext, desired: Customer) -> None:
    """Rule 52: a broken military address fails a Heartland sync naming the field (rule 22's complete
    address); another POS takes the normalised address, and the job keeps a warning for the operator."""
    if found := military.customer_problems(desired):
        if ctx.tenant.pos_kind is PosKind.HEARTLAND:
            raise MissingFieldsError(military.describe(found))
        ctx.job.context = {**ctx.job.context, "warnings": [military.describe(found)]}


def _known_pos_customer(ctx: StepContext, adapter: PosAdapter) -> tuple[str | None, Customer | None]:
    """The POS id an earlier step found, and its reading if a write may still rely on it (else None: read again).

    Rule 37: the record may have been archived since it was read. Once the tenant's index is complete, one
    shared catch-up that began after the reading tells (the poll reads archives as changes), at a request
    shared by every job that read before it began; otherwise a reading older than `FRESH_READ_SECONDS`
    (a wait came between) is read again.
    """
    context = ctx.job.context
    pos_id = context.get("pos_id")
    read_at = context.get(POS_READ_AT)
    if not pos_id or not context.get("pos_current") or read_at is None:
        return pos_id, None
    if index_complete(_pos_import(ctx)):
        poll.catch_up(ctx.session, ctx.tenant, adapter, since=float(read_at))
        entry = pos_index.get_entry(ctx.session, ctx.tenant.id, pos_id)
        if entry is not None and entry.status != PosStatus.ACTIVE.value:
            return pos_id, None
    elif time.time() - float(read_at) > FRESH_READ_SECONDS:
        return pos_id, None
    return pos_id, Customer.from_json(context["pos_current"])


def _match_under_lock(ctx: StepContext, customer: ShopifyCustomer, adapter: PosAdapter, *,
                      caught_up: bool) -> MatchResult:
    """Match again where only the index can tell, before a create.

    A concurrent job may have just created this customer (index first); a customer added in store since
    the last poll is found by catching the index up (rule 36, once per job); after an unrecorded create
    the vendor is asked too, as only it can know (tests/resilience/test_worker_crash.py).
    """
    tenant = ctx.tenant
    again = _find(ctx, customer, None)
    if again.pos_id is None and not caught_up and index_complete(_pos_import(ctx)):
        poll.catch_up(ctx.session, tenant, adapter, since=_arrived(ctx))
        again = _find(ctx, customer, None)
    if again.pos_id is None and ctx.job.context.get(CREATE_SENT):
        again = _find(ctx, customer, adapter)
    return again


def _forget_pos_customer(ctx: StepContext, shopify_id: str, pos_id: str, fetched: PosCustomer | None) -> None:
    """A linked or matched POS customer turned out archived or deleted: unlink it, record what it is now."""
    links.drop_link(ctx.session, ctx.tenant.id, shopify_id)
    if fetched is None:
        pos_index.mark_status(ctx.session, ctx.tenant.id, pos_id, PosStatus.DELETED)
    else:
        pos_index.index_customers(ctx.session, ctx.tenant.id, [fetched], ctx.tenant.settings.default_phone_region)
    ctx.job.context = {**ctx.job.context, "rematched_from": pos_id}


def _create(ctx: StepContext, customer: ShopifyCustomer, adapter: PosAdapter, desired: Customer) -> PosCustomer:
    """The one step that cannot be undone: marked as sent (and committed) before it goes."""
    tenant = ctx.tenant
    ctx.job.context = {**ctx.job.context, CREATE_SENT: True}
    ctx.commit()
    requests_before = adapter.client.stats.requests
    try:
        return adapter.create_customer(desired)
    except PartialCreateError as exc:
        # Created but not finished (e.g. Heartland's address call failed): link it now, so the
        # retry completes this customer instead of creating a second one.
        links.save_link(ctx.session, tenant.id, customer.id, exc.pos_id)
        ctx.commit()
        raise exc.cause from exc
    except AdapterError:
        if adapter.client.stats.requests == requests_before:
            # Nothing reached the vendor (the limiter said "wait"): there is no create to look for.
            ctx.job.context = {k: v for k, v in ctx.job.context.items() if k != CREATE_SENT}
            ctx.commit()
        raise


def _finish(ctx: StepContext, result: dict[str, Any], outcome: str) -> dict[str, Any]:
    ctx.job.outcome = outcome
    ctx.record(result)
    ctx.commit()
    return result


# --- step 5 ------------------------------------------------------------------------------------
def sync_marketing_consent(ctx: StepContext) -> dict[str, Any]:
    """Email and SMS consent to the POS: newest wins, an unsubscribe is never undone by older data."""
    customer = _shopify_customer(ctx)
    context = ctx.job.context
    if customer is None or not context.get("pos_id") or not context.get("pos_current"):
        return {}
    adapter = pos_adapter_for(ctx.tenant)
    if not consent_changes(customer.customer, Customer.from_json(context["pos_current"]), adapter.capabilities):
        return {}  # nothing to write (the upsert's write carried it): no need to know the reading is current
    current = _known_pos_customer(ctx, adapter)[1]
    if current is None:  # a wait came between the upsert's reading and this write: is it still there?
        fetched = adapter.get_customer(context["pos_id"])
        if fetched is None or fetched.status is not PosStatus.ACTIVE:
            _forget_pos_customer(ctx, customer.id, context["pos_id"], fetched)
            raise StepFinished("archived")  # archived since the upsert: matched again at the next event
        current = fetched.customer
    changes = consent_changes(customer.customer, current, adapter.capabilities)
    if not changes:
        return {}
    written = adapter.update_customer(context["pos_id"], changes)
    readings.remember(ctx.tenant.id, written, time.time())
    links.save_link(ctx.session, ctx.tenant.id, customer.id, written.pos_id,
                    pos_fingerprint=echo.pos_fingerprint(written.customer))
    if ctx.job.outcome == "unchanged":
        ctx.job.outcome = "updated"
    return {"pos_current": written.customer.to_json(), POS_VENDOR_STATE: written.vendor_state,
            "consent_written": sorted(changes), POS_READ_AT: time.time()}


def consent_changes(wanted: Customer, current: Customer, caps: Capabilities) -> dict[str, Any]:
    """The consent fields this POS holds whose merged value differs from the POS's (rules 25, 26)."""
    held = {"email_consent": caps.email_consent, "sms_consent": caps.sms_consent}
    changes = {}
    for name in CONSENT_FIELDS:
        if held[name] and (chosen := merge_consent(getattr(wanted, name), getattr(current, name))) is not None:
            changes[name] = chosen
    return changes


# --- POS -> Shopify ----------------------------------------------------------------------------
def push_to_shopify(ctx: StepContext) -> dict[str, Any]:
    """A changed POS customer's basic details (names, email, phone, consent) to Shopify (rule 2)."""
    tenant = ctx.tenant
    if "pos_customer" in ctx.job.context:
        pos = serial.pos_customer_from_json(ctx.job.context["pos_customer"])
    else:  # an X-Series webhook: only the id is known, read the customer now
        fetched = pos_adapter_for(tenant).get_customer(ctx.job.context["pos_customer_id"])
        if fetched is None:
            raise StepFinished("gone")
        pos = fetched
    link = links.get_link_by_pos(ctx.session, tenant.id, pos.pos_id)
    if echo.is_pos_echo(link, pos.customer):
        raise StepFinished("echo")  # rule 5: our own write to the POS coming back through the poll
    if not tenant.settings.sync_pos_to_shopify:
        raise StepFinished("skipped")
    if pos.status is not PosStatus.ACTIVE:
        if link is not None:
            link.pos_status = pos.status.value
        raise StepFinished("archived")
    if link is not None and link.contradicted:
        raise StepFinished("near_match")  # rule 10's `link`: another person's record, never pushed to this account
    shopify = shopify_client_for(tenant)
    existing = shopify.get_customer(link.shopify_customer_id) if link is not None else None
    if existing is None:
        existing = _find_in_shopify(ctx, shopify, pos)
    if existing is None:
        basic = _with_tags(ctx, pos.customer, None,
                           shopify_changes_from_pos(pos.customer, None, region=tenant.settings.default_phone_region))
        if ctx.job.context.get(PHONE_TAKEN):
            basic.pop("phone", None)  # Shopify holds this phone on another person's account (rule 10)
        written = shopify.create_customer(Customer(**{k: v for k, v in basic.items() if k not in CONSENT_FIELDS}))
        outcome = "created"
        consent_changes = {k: v for k, v in basic.items() if k in CONSENT_FIELDS}
    else:
        changes = _with_tags(ctx, pos.customer, existing.customer, shopify_changes_from_pos(
            pos.customer, existing.customer, region=tenant.settings.default_phone_region))
        basic = {k: v for k, v in changes.items() if k not in CONSENT_FIELDS}
        consent_changes = {k: v for k, v in changes.items() if k in CONSENT_FIELDS}
        written = shopify.update_customer(existing.id, basic) if basic else existing
        outcome = "updated" if changes else "unchanged"
    # Only unsubscribes travel from a POS to Shopify: POS opt-out flags default to "may contact", so a
    # POS "yes" is no evidence that the customer consented, and Shopify's own opt-in stays the way in.
    consent_changes = {k: v for k, v in consent_changes.items() if not v.state.allows_marketing}
    if consent := consent_changes.get("email_consent"):
        shopify.update_email_consent(written.id, consent)
    if consent := consent_changes.get("sms_consent"):
        shopify.update_sms_consent(written.id, consent)
    if consent_changes:
        written = shopify.get_customer(written.id) or written
    ctx.job.subject = pos.pos_id
    links.save_link(ctx.session, tenant.id, written.id, pos.pos_id, pos_fingerprint=echo.pos_fingerprint(pos.customer),
                    shopify_fingerprint=echo.shopify_fingerprint(written.customer))
    ctx.job.outcome = outcome
    return {"shopify_customer_id": written.id}


def _with_tags(ctx: StepContext, pos: Customer, shopify: Customer | None, changes: dict[str, Any]) -> dict[str, Any]:
    """The POS's new tags ride in the same Shopify write (rule 50); what Shopify's limits drop is on the job."""
    tags, dropped = shopify_tags_from_pos(pos, shopify, account_name=ctx.tenant.account_name)
    if dropped:
        ctx.job.context = {**ctx.job.context, "tags_dropped": dropped}
    return {**changes, "tags": tags} if tags is not None else changes


def _find_in_shopify(ctx: StepContext, shopify: Any, pos: PosCustomer) -> ShopifyCustomer | None:
    """Reverse matching (rule 2): the tenant's `customer_matching` order and rule 10, oldest (lowest id) first.

    A Shopify account found by phone whose email differs is another person's: under `new` nothing is
    linked (the caller creates), under `link` the push stops, under `update` it is used (Mortar).
    """
    settings = ctx.tenant.settings
    region, customer = settings.default_phone_region, pos.customer
    wanted = email_key(customer.email)
    for kind in settings.customer_matching:
        kind = kind.strip()
        value = customer.email if kind == "email" else customer.phone
        key = email_key(value) if kind == "email" else phone_key(value, region)
        if not key:
            continue
        found = shopify.search_customers(**{kind: value})
        same = [c for c in found if (email_key(c.customer.email) if kind == "email"
                                     else phone_key(c.customer.phone, region)) == key]
        if not same:
            continue
        oldest = _oldest(same)
        if kind == "email":
            return oldest
        consistent = [c for c in same if not contradicts(email_key(c.customer.email), wanted)]
        if consistent:
            return _oldest(consistent)
        _note_near_match(ctx, oldest.id, NearMatch(pos.pos_id), shown={"shopify_customer_id": oldest.id})
        if settings.conflicting_match == "update":
            return oldest
        if settings.conflicting_match == "link":
            raise StepFinished("near_match")  # never push another person's record into this account
        ctx.job.context = {**ctx.job.context, PHONE_TAKEN: True}
    return None


STEP_FUNCTIONS = {
    "fetch_customer": fetch_customer,
    "resolve_match": resolve_match,
    "default_customer_fallback": default_customer_fallback,
    "upsert_pos_customer": upsert_pos_customer,
    "sync_marketing_consent": sync_marketing_consent,
    "push_to_shopify": push_to_shopify,
}
