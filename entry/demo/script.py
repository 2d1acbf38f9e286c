"""The scripted day: what happens in each shop, in order, and what possync must have done about it.

Every event reaches possync the way production's do: Shopify's as signed HTTP webhooks to the
receiver, the POS's through a change poll. Each phase sends its events for all three shops at once,
then waits until the worker has finished every job. Expectations are recorded as `Check`s; the demo
is green only when all of them hold.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select

from possync.adapters.errors import RateLimitedError
from possync.adapters.shopify.webhooks import customer_payload, order_payload, refund_payload
from possync.entry.demo.progress import JobProgress, PipelineStalledError
from possync.entry.demo.shops import DEFAULT_CUSTOMER_ID, DemoShop
from possync.models import links
from possync.models.db import session_scope
from possync.models.tables import InboundEvent, SyncAttempt, SyncJob
from possync.models.tenants import get_tenant
from possync.tasks.operations import poll_now

POLL_TRIES = 20
STORM_429S = 3  # injected per POS; each answers with a one-second Retry-After

# Shopify -> POS results the day must end with, per POS (the closing table's first columns):
# created: Ava, Ben, Cleo, Dan (not on Heartland: no address), the Heartland default customer, Ava again
# after her archive, Eve and Finn; updated: Ben's phone, Mia matched (and tagged, except on Heartland);
# unchanged: Ava's second order, Cleo's refund (and Mia on Heartland).
EXPECTED_TABLE = {
    "lightspeed-r": {"created": 7, "updated": 2, "unchanged": 2, "failed": 0},
    "lightspeed-x": {"created": 7, "updated": 2, "unchanged": 2, "failed": 0},
    "heartland": {"created": 7, "updated": 1, "unchanged": 3, "failed": 1},
}

# Fictional people; addresses in GraphQL `MailingAddressInput` keys (as the Shopify fake takes them).
OTTAWA = {"address1": "150 Elgin St", "city": "Ottawa", "provinceCode": "ON", "zip": "K2P 1L4", "countryCode": "CA"}
AUSTIN = {"address1": "1 Congress Ave", "city": "Austin", "provinceCode": "TX", "zip": "78701", "countryCode": "US"}
DENVER = {"address1": "200 Larimer St", "city": "Denver", "provinceCode": "CO", "zip": "80202", "countryCode": "US"}
STORE = {"address1": "12 Market Sq", "city": "Boston", "provinceCode": "MA", "zip": "02109", "countryCode": "US"}


@dataclass
class Check:
    shop: str
    what: str
    ok: bool
    detail: str = ""


@dataclass
class ShopDay:
    """What the script did in one shop: the Shopify ids it made and the POS ids it learnt."""

    shop: DemoShop
    tenant_id: int = 0
    customers: dict[str, str] = field(default_factory=dict)  # first name -> Shopify id
    orders: dict[str, str] = field(default_factory=dict)  # first name -> Shopify order id
    pos_ids: dict[str, str] = field(default_factory=dict)  # first name -> POS id (after the first sync)
    seeded_pos: dict[str, str] = field(default_factory=dict)  # in-store customers, first name -> POS id
    webhooks: dict[str, str] = field(default_factory=dict)  # label -> X-Shopify-Webhook-Id sent
    events_before_bad_signature: int = 0
    bad_signature_status: int | None = None
    storm_429s_before: int = 0
    poll_results: list[dict[str, Any]] = field(default_factory=list)

    @property
    def kind(self) -> str:
        return self.shop.kind


class Day:
    """Runs the phases over all shops and collects the checks."""

    def __init__(self, shops: Iterable[DemoShop], database_url: str, progress: JobProgress) -> None:
        self.database_url = database_url
        self.progress = progress
        self.days = [ShopDay(shop) for shop in shops]
        self.checks: list[Check] = []
        with session_scope(database_url) as session:
            for day in self.days:
                record = get_tenant(session, day.shop.name)
                assert record is not None
                day.tenant_id = record.id

    # --- helpers ---------------------------------------------------------------------------------
    def check(self, day: ShopDay, what: str, ok: bool, detail: str = "") -> None:
        self.checks.append(Check(day.kind, what, bool(ok), detail))

    def _send(self, day: ShopDay, label: str, topic: str, payload: dict[str, Any]) -> None:
        """One webhook that makes one sync job, found later by its webhook id."""
        webhook_id = str(uuid.uuid4())
        response = day.shop.send(topic, payload, webhook_id=webhook_id)
        self.check(day, f"{label}: webhook accepted", response.status_code == 200, f"HTTP {response.status_code}")
        if response.status_code == 200:
            self.progress.expect(1)
            day.webhooks[label] = webhook_id

    def _order(self, day: ShopDay, name: str, *, label: str | None = None) -> None:
        shopify = day.shop.shopify
        customer_id = day.customers[name]
        order_id = shopify.add_order(customer_id)
        day.orders[name] = order_id
        record = shopify.customers[customer_id]
        self._send(day, label or f"{name} orders", "orders/create", order_payload(
            id=order_id, customer=customer_payload(id=customer_id, email=record["email"],
                                                   first_name=record["first_name"], last_name=record["last_name"])))

    def _customer_update(self, day: ShopDay, name: str, label: str, topic: str = "customers/update") -> None:
        record = day.shop.shopify.customers[day.customers[name]]
        self._send(day, label, topic, customer_payload(id=record["id"], email=record["email"],
                                                        first_name=record["first_name"],
                                                        last_name=record["last_name"], phone=record["phone"]))

    def job(self, day: ShopDay, label: str) -> SyncJob | None:
        """The sync job made from the webhook sent under `label`."""
        webhook_id = day.webhooks.get(label)
        if webhook_id is None:
            return None
        with session_scope(self.database_url) as session:
            return session.scalars(select(SyncJob).join(InboundEvent, SyncJob.event_id == InboundEvent.id).where(
                InboundEvent.tenant_id == day.tenant_id, InboundEvent.webhook_id == webhook_id)).first()

    def expect_outcome(self, day: ShopDay, label: str, outcome: str) -> SyncJob | None:
        job = self.job(day, label)
        got = "no job" if job is None else (job.outcome if job.status == "succeeded" else f"{job.status}: "
                                            f"{job.last_error_class}")
        self.check(day, f"{label}: {outcome}", job is not None and job.status == "succeeded" and job.outcome == outcome,
                   f"got {got}")
        return job

    def pos_id_of(self, day: ShopDay, name: str) -> str | None:
        with session_scope(self.database_url) as session:
            link = links.get_link(session, day.tenant_id, day.customers[name])
            return link.pos_customer_id if link else None

    def finish_phase(self) -> None:
        self.progress.wait()

    # --- the day ---------------------------------------------------------------------------------
    def run(self) -> None:
        self.morning()
        self.returning()
        self.archived()
        self.pos_edit()
        self.storm()
        self.bad_signature()
        self.final_checks()

    def morning(self) -> None:
        """New customers order online; one of them already shops in the store (matched, not duplicated)."""
        self.progress.phase("Morning: first orders")
        for day in self.days:
            shopify = day.shop.shopify
            day.customers["Ava"] = shopify.add_customer("Ava", "Reyes", "ava@example.com", "+1 613-555-0101",
                                                        address=OTTAWA, email_consent="SUBSCRIBED")
            day.customers["Ben"] = shopify.add_customer("Ben", "Okafor", "ben@example.com", "+1 512-555-0102",
                                                        address=AUSTIN)
            day.customers["Cleo"] = shopify.add_customer("Cleo", "Park", "cleo@example.com", None, address=DENVER)
            day.customers["Mia"] = shopify.add_customer("Mia", "Chen", "mia@example.com", None, address=STORE)
            day.seeded_pos["Mia"] = day.shop.seed_pos_customer("Mia", "Chen", "mia@example.com", STORE)
            # Dan signs up with no address: fine for Lightspeed, not for Heartland (SPEC rule 22).
            day.customers["Dan"] = shopify.add_customer("Dan", "Moss", "dan@example.com", None)
            for name in ("Ava", "Ben", "Cleo", "Mia"):
                self._order(day, name)
            self._customer_update(day, "Dan", "Dan signs up", topic="customers/create")
            if day.kind == "heartland":
                shopify.add_customer("Walk-in", "Customer", "walk-in@example.com", None, address=STORE,
                                     id=DEFAULT_CUSTOMER_ID)
                self._walk_in(day, "walk-in sale 1")
        self.finish_phase()
        for day in self.days:
            for name in ("Ava", "Ben", "Cleo"):
                self.expect_outcome(day, f"{name} orders", "created")
                day.pos_ids[name] = self.pos_id_of(day, name) or ""
            # R- and X-Series hold tags: Mia's POS record gains the account tag. Heartland keeps tags only
            # in a custom field this tenant does not map, so nothing differs there.
            mia = self.expect_outcome(day, "Mia orders", "unchanged" if day.kind == "heartland" else "updated")
            self.check(day, "Mia matched to her in-store POS customer, not duplicated",
                       mia is not None and mia.context.get("pos_id") == day.seeded_pos["Mia"],
                       f"linked to {mia.context.get('pos_id') if mia else None}, in-store id {day.seeded_pos['Mia']}")
            if day.kind == "heartland":
                dan = self.job(day, "Dan signs up")
                self.check(day, "Dan without an address fails with a reason (rule 22)",
                           dan is not None and dan.status == "failed" and dan.last_error_class == "missing_fields",
                           f"got {dan.status if dan else None} {dan.last_error_class if dan else ''}")
                walk_in = self.expect_outcome(day, "walk-in sale 1", "created")
                self.check(day, "walk-in sale booked to the default customer (rule 23)",
                           walk_in is not None and walk_in.context.get("default_customer") is True)
            else:
                self.expect_outcome(day, "Dan signs up", "created")

    def _walk_in(self, day: ShopDay, label: str) -> None:
        order_id = day.shop.shopify.add_order(None, source_name="pos")
        self._send(day, label, "orders/create", order_payload(id=order_id, customer=None, email=None,
                                                               source_name="pos"))

    def returning(self) -> None:
        """Returning customers: nothing new (no write), a new phone (an update), a refund."""
        self.progress.phase("Afternoon: returning customers")
        for day in self.days:
            self._order(day, "Ava", label="Ava orders again")
            with day.shop.shopify.lock:  # Ben changes his phone number in his Shopify account
                day.shop.shopify._customers[day.customers["Ben"]]["phone"] = "+15125550142"
            self._customer_update(day, "Ben", "Ben's new phone")
            refund = refund_payload(day.orders["Cleo"])
            self._send(day, "Cleo's refund", "refunds/create", refund)
            if day.kind == "heartland":
                self._walk_in(day, "walk-in sale 2")
        self.finish_phase()
        for day in self.days:
            self.expect_outcome(day, "Ava orders again", "unchanged")
            self.expect_outcome(day, "Ben's new phone", "updated")
            cleo = self.expect_outcome(day, "Cleo's refund", "unchanged")
            self.check(day, "the refund synced its order's customer (rule 1)",
                       cleo is not None and cleo.subject == day.customers["Cleo"])
            if day.kind == "heartland":
                self.expect_outcome(day, "walk-in sale 2", "default_customer")

    def archived(self) -> None:
        """Staff archive Ava in the POS; her next order makes a new POS customer (rule 12)."""
        self.progress.phase("Ava archived in the POS, orders")
        for day in self.days:
            day.shop.archive(day.pos_ids["Ava"])
            self._order(day, "Ava", label="Ava orders after archive")
        self.finish_phase()
        for day in self.days:
            job = self.expect_outcome(day, "Ava orders after archive", "created")
            new_id = job.context.get("pos_id") if job else None
            fresh = bool(new_id and new_id != day.pos_ids["Ava"])
            self.check(day, "Ava's new POS customer is not the archived one", fresh,
                       f"{day.pos_ids['Ava']} -> {new_id}")

    def pos_edit(self) -> None:
        """The poll sees possync's own writes (echoes, rule 5); a staff edit in the POS reaches Shopify (rule 2)."""
        self.progress.phase("Evening: POS edits -> Shopify")
        for day in self.days:
            day.poll_results.append(self._poll(day, poll_now))
        for day in self.days:
            day.shop.edit_last_name(self.pos_id_of(day, "Ben") or "", "Okafor-Hale")
            result = self._poll(day, poll_now)
            day.poll_results.append(result)
            self.check(day, "the POS edit makes one push to Shopify", result["jobs"] == 1, f"{result['jobs']} jobs")
            # Shopify answers possync's write with a customers/update webhook: an echo (rule 5).
            self.progress.expect(1)
        for day in self.days:
            day.shop.shopify.wait_for_deliveries(timeout=10)
        self.finish_phase()
        for day in self.days:
            ben = day.shop.shopify.customers[day.customers["Ben"]]
            self.check(day, "Ben's POS edit reached Shopify", ben["last_name"] == "Okafor-Hale",
                       f"Shopify last name {ben['last_name']!r}")
            with session_scope(self.database_url) as session:
                push = session.scalars(select(SyncJob).where(
                    SyncJob.tenant_id == day.tenant_id, SyncJob.direction == "pos_to_shopify",
                    SyncJob.subject == self.pos_id_of(day, "Ben")).order_by(SyncJob.id.desc())).first()
                echo = session.scalars(select(SyncJob).where(
                    SyncJob.tenant_id == day.tenant_id, SyncJob.direction == "shopify_to_pos",
                    SyncJob.subject == day.customers["Ben"]).order_by(SyncJob.id.desc())).first()
            self.check(day, "the push updated the Shopify customer", push is not None and push.outcome == "updated",
                       f"got {push.outcome if push else None}")
            self.check(day, "Shopify's webhook about that write is an echo: nothing written back",
                       echo is not None and echo.outcome == "echo", f"got {echo.outcome if echo else None}")

    def _poll(self, day: ShopDay, poll_now: Any) -> dict[str, Any]:
        """One change poll, now, in this process; its pushes run inline (no Redis: `dispatch` runs them here)."""
        for _ in range(POLL_TRIES):
            try:
                result = poll_now(day.shop.name)
                break
            except RateLimitedError as exc:  # the tenant's budget is spent for now: wait as a worker would
                time.sleep(min(exc.retry_after, 5.0) + 0.05)
        else:
            raise PipelineStalledError(f"the {day.kind} poll was rate limited {POLL_TRIES} times in a row")
        self.progress.expect(result["jobs"])
        return dict(result)

    def storm(self) -> None:
        """The POS answers a run of 429s: possync waits them out; nothing fails, no retry budget is spent."""
        self.progress.phase(f"429 storm: {STORM_429S} x 429 per POS")
        for day in self.days:
            shopify = day.shop.shopify
            day.storm_429s_before = day.shop.pos_429s()
            day.shop.inject_429s(STORM_429S)
            day.customers["Eve"] = shopify.add_customer("Eve", "Lind", "eve@example.com", "+1 303-555-0105",
                                                        address=DENVER)
            day.customers["Finn"] = shopify.add_customer("Finn", "Ruiz", "finn@example.com", None, address=AUSTIN)
            self._order(day, "Eve")
            self._order(day, "Finn")
        self.finish_phase()
        for day in self.days:
            jobs = [self.expect_outcome(day, f"{name} orders", "created") for name in ("Eve", "Finn")]
            answered = day.shop.pos_429s() - day.storm_429s_before
            self.check(day, "every injected 429 was answered", answered >= STORM_429S, f"{answered} answered")
            self.check(day, "waits are not failures: no retry budget spent",
                       all(j is not None and j.attempts == 0 for j in jobs),
                       f"attempts {[j.attempts if j else None for j in jobs]}")

    def bad_signature(self) -> None:
        """A webhook signed with the wrong secret: 401, and nothing stored."""
        self.progress.phase("A forged webhook")
        for day in self.days:
            day.events_before_bad_signature = self._events(day)
            record = day.shop.shopify.customers[day.customers["Ava"]]
            response = day.shop.send("customers/update", customer_payload(id=record["id"], email=record["email"]),
                                     secret="not-the-shops-secret")
            day.bad_signature_status = response.status_code
        for day in self.days:
            stored = self._events(day) - day.events_before_bad_signature
            self.check(day, "bad signature answered 401 and stored nothing",
                       day.bad_signature_status == 401 and stored == 0,
                       f"HTTP {day.bad_signature_status}, {stored} events stored")

    def _events(self, day: ShopDay) -> int:
        with session_scope(self.database_url) as session:
            return session.scalar(select(func.count()).select_from(InboundEvent)
                                  .where(InboundEvent.tenant_id == day.tenant_id)) or 0

    def final_checks(self) -> None:
        for day in self.days:
            counts = self.table_counts(day)
            wanted = EXPECTED_TABLE[day.kind]
            self.check(day, "the day adds up: " + ", ".join(f"{k} {v}" for k, v in wanted.items()),
                       counts == wanted, "got " + ", ".join(f"{k} {v}" for k, v in counts.items()))
            emails = day.shop.pos_emails()
            duplicates = sorted({e for e in emails if emails.count(e) > 1})
            self.check(day, "no duplicate POS customers", not duplicates, f"{len(duplicates)} emails twice")
            with session_scope(self.database_url) as session:
                failed = session.scalars(select(SyncJob).where(SyncJob.tenant_id == day.tenant_id,
                                                               SyncJob.status == "failed")).all()
                retries = session.scalar(select(func.count()).select_from(SyncAttempt).join(SyncJob).where(
                    SyncJob.tenant_id == day.tenant_id, SyncAttempt.outcome == "fatal")) or 0
            expected = 1 if day.kind == "heartland" else 0
            self.check(day, "no failures but the expected one" if expected else "no failures",
                       len(failed) == expected, f"{len(failed)} failed, {retries} fatal attempts")

    def table_counts(self, day: ShopDay) -> dict[str, int]:
        """Shopify -> POS jobs of the day by result, as the closing table shows them."""
        with session_scope(self.database_url) as session:
            rows = session.execute(select(SyncJob.status, SyncJob.outcome, func.count()).where(
                SyncJob.tenant_id == day.tenant_id, SyncJob.direction == "shopify_to_pos")
                .group_by(SyncJob.status, SyncJob.outcome)).all()
        counts = dict.fromkeys(EXPECTED_TABLE[day.kind], 0)
        for status, outcome, count in rows:
            key = "failed" if status == "failed" else str(outcome)
            if key in counts:
                counts[key] += count
        return counts
