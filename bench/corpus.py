"""A merchant's real data shape, end to end, checked against a truth table (issue #14 "Numbers").

For each POS, one tenant whose POS fake is pre-loaded with the merchant's customers (most created by
one bulk import, so sharing one change timestamp; some archived; emails keyed with stray blanks,
phones as typed at a till, pairs sharing an email, a stranger's record sharing a phone) and whose
Shopify fake holds its online customers (`bench.corpus_data`). The tenant is onboarded
(`onboard()`), then its orders arrive as signed `orders/create` webhooks through the real receiver at
50/s, served by `possync worker --concurrency 4`. During the run the bench archives some linked POS
records on the first read of them (a record archived while its sync runs) and creates others in the
POS seconds before their customer's first order (after the last poll). At the end, possync's links
and every POS record are compared with the truth table: duplicated, missing, wrong links, and the
POS fake's own count of writes aimed at archived records.

Vendor limits are the issue's shape at 20 times the vendors' documented rates (R-Series bucket 40
draining 20/s, against 90 and 1/s for one register; X-Series 350 requests per 15 s, against per
5 minutes; Heartland 20 requests per 2 s), so a run takes minutes, not hours. Shopify is not scaled:
the Shopify fake holds a standard plan's query-cost bucket (2000 points restoring 100/s). A last run
repeats the R-Series corpus with the POS unlimited, so that Shopify's bucket is the limit met.

`python -m bench corpus` runs the issue's sizes (R-Series 2,000 Shopify / 1,350 POS customers and
3,000 orders; X-Series 150 / 100 / 225; Heartland 200 / 135 / 300); `python -m bench --small corpus`
a smoke run of a few dozen customers per POS (about a minute).
"""

from __future__ import annotations

import logging
import re
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Collection
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import requests
import sqlalchemy as sa
from flask import Response, request

from bench.corpus_data import Corpus, Person, PosSeed, PosState, Shape, Tally, email_key, make_corpus, tally
from bench.table import Result, percentile, render
from possync.entry.web.tenant_cache import KNOWN_SHOPS_TTL_SECONDS
from testing.stack import POS_TOKENS, Shop, Stack, stack, wait_for

SEED = 14
WORKER_PROCESSES = 4
RECENT_LEAD_SECONDS = 2.0  # a `pos_recent` customer is created in the POS this long before its first order
BULK_AGE_SECONDS = 86_400  # the bulk import happened a day before the run
WALK_IN_SHOPIFY_ID, WALK_IN_EMAIL = "7208999000001", "walk-in@store.example"  # Heartland's default customer
SHAPES = (
    Shape("lightspeed-r", 2000, 1350, 3000, region="CA", limit=(40.0, 20.0)),
    Shape("lightspeed-x", 150, 100, 225, region="GB", limit=(350.0, 15.0)),
    Shape("heartland", 200, 135, 300, region="US", limit=(20.0, 2.0)),
    # The R-Series corpus again with the POS unlimited: Shopify's query-cost bucket is the limit met.
    Shape("lightspeed-r", 2000, 1350, 3000, region="CA", limit=None),
)
SMALL_FACTOR = {"lightspeed-r": 0.03, "lightspeed-x": 0.15, "heartland": 0.12, "lightspeed-r unlimited": 0.03}
# Targets (issue #14).
POS_REQUESTS_PER_SYNC_TARGET = 2.2
SHOPIFY_REQUESTS_PER_DELIVERY_TARGET = 1.1
THROTTLED_TARGET = 0.01
ADDRESSES = {
    "GB": {"address1": "10 Downing St", "city": "London", "zip": "SW1A 2AA", "countryCode": "GB"},
    "CA": {"address1": "150 Elgin St", "city": "Ottawa", "provinceCode": "ON", "zip": "K2P 1L4", "countryCode": "CA"},
    "US": {"address1": "1 Main St", "city": "Burlington", "provinceCode": "VT", "zip": "05401", "countryCode": "US"},
}
Say = Callable[[str], None]
ID_IN_PATH = re.compile(r"/([0-9]+|[0-9a-f]{8}-[0-9a-f-]{27})(?=/|\.json|$)")  # a record id in a URL path


# --- onboarding -------------------------------------------------------------------------------------------
def onboard(s: Stack, shop: Shop, say: Say) -> str:
    """Onboard the tenant before its first order, as the README says: `possync tenant import` (in this
    process, as the CLI runs it), which reads every POS customer into the index at the tenant's rate limit.
    Returns what it did, for the report."""
    from possync.tasks.onboarding import import_here

    started = time.monotonic()
    try:
        row = import_here(shop.name, on_page=lambda _row: None)
        done = (f"{row.customers_read} POS customers read in {row.pages_read} pages "
                f"({time.monotonic() - started:.0f} s), import {row.status}")
    except Exception as exc:  # the product's failure is a finding of the run, not the bench's end
        done = f"the import failed: {type(exc).__name__}: {' '.join(str(exc).split())[:90]}"
    with_index = _scalar(s.database_url, "SELECT count(*) FROM pos_index WHERE tenant_id = :t", t=shop.tenant_id)
    text = f"onboarding: `possync tenant import`: {done}, {with_index} in the POS index"
    say(f"corpus: {shop.kind}: {text}")
    return text


# --- the POS fakes: loading, archiving on read, reading back ----------------------------------------------
def armed(fake_class: type) -> type:
    """The POS fake, also archiving a customer right after possync's first read of it (`archive_on_read`): a
    merchant archiving a record while possync's sync of it is under way. The read is a GET of it by id, or,
    once its first order was delivered (`order_delivered`), a change poll: a job may take the record the
    index keeps, vouched for by a catch-up, instead of reading it by id."""

    class Armed(fake_class):  # type: ignore[misc, valid-type]
        def __init__(self, **options: Any) -> None:
            super().__init__(**options)
            self.archive_on_read: set[str] = set()
            self.delivered: set[str] = set()

        def order_delivered(self, pos_id: str) -> None:
            with self.lock:
                if pos_id in self.archive_on_read:
                    self.delivered.add(pos_id)

        def _after(self, response: Response) -> Response:
            response = super()._after(response)
            if request.method == "GET" and response.status_code == 200:
                customer_id = request.path.rsplit("/", 1)[-1].removesuffix(".json")
                listing = customer_id.lower() in ("customer", "customers", "search")
                with self.lock:
                    due = self.delivered & self.archive_on_read if listing else {customer_id} & self.archive_on_read
                    self.archive_on_read -= due
                for pos_id in sorted(due):
                    self.archive(pos_id)
            return response

    return Armed


def make_fake(shape: Shape) -> Any:
    from possync.adapters.heartland.fake import FakeServer as HeartlandFake
    from possync.adapters.lightspeed_r.fake import FakeServer as LightspeedRFake
    from possync.adapters.lightspeed_x.fake import FakeServer as LightspeedXFake

    classes = {"lightspeed-r": LightspeedRFake, "lightspeed-x": LightspeedXFake, "heartland": HeartlandFake}
    size, per = shape.limit or (None, None)
    options: dict[str, Any] = {
        "lightspeed-r": {"access_token": POS_TOKENS["lightspeed-r"], "bucket_size": size, "drip_rate": per or 1.0},
        "lightspeed-x": {"access_token": POS_TOKENS["lightspeed-x"], "rate_limit": size and int(size),
                         "window_seconds": per or 300.0},
        "heartland": {"api_token": POS_TOKENS["heartland"], "requests_per_window": size and int(size),
                      "window_seconds": per or 1.0},
    }[shape.kind]
    return armed(classes[shape.kind])(**options)


def _stamp(kind: str, fake: Any, moment: float) -> Any:
    if kind == "lightspeed-r":
        return int(moment)
    if kind == "lightspeed-x":
        return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00")
    return datetime.fromtimestamp(moment, fake.tz).isoformat(timespec="milliseconds")


def vendor_record(kind: str, fake: Any, seed: PosSeed, region: str, moment: float) -> dict[str, Any]:
    """`seed` in the fake's seed shape, created and last changed at `moment`."""
    stamp = _stamp(kind, fake, moment)
    names = {"first_name": seed.first_name, "last_name": seed.last_name}
    if kind == "lightspeed-r":
        return {**names, "email": seed.email, "phone": seed.phone, "archived": seed.archived, "time_stamp": stamp,
                "create_time": stamp}
    if kind == "lightspeed-x":
        return {**names, "email": seed.email, "phone": seed.phone, "deleted": seed.archived, "created_at": stamp,
                "updated_at": stamp}
    address = {k.replace("provinceCode", "province_code").replace("countryCode", "country_code"): v
               for k, v in ADDRESSES[region].items()}
    return {**names, "email": seed.email, "phone": seed.phone, "active": not seed.archived, "address": address,
            "created_at": stamp, "updated_at": stamp}


def load_pos(kind: str, fake: Any, corpus: Corpus, now: float) -> dict[str, str]:
    """Pre-load the corpus's POS customers into the fake's store; returns ref -> POS id."""
    bulk = now - BULK_AGE_SECONDS
    records = []
    for seed in corpus.pos:  # oldest first: ids count up, rule 11's "oldest" is the first loaded
        moment = bulk if seed.bulk else bulk - BULK_AGE_SECONDS + seed.age
        records.append(vendor_record(kind, fake, seed, corpus.shape.region, moment))
    if kind == "lightspeed-x":  # X-Series orders candidates by creation time, then id
        for seed, record in zip(corpus.pos, records, strict=True):
            record["created_at"] = _stamp(kind, fake, bulk - BULK_AGE_SECONDS + seed.age)
    ids = fake.seed(records)
    return {seed.ref: str(pos_id) for seed, pos_id in zip(corpus.pos, ids, strict=True)}


def pos_states(kind: str, fake: Any, known: set[str]) -> dict[str, PosState]:
    """Every POS record at the end: active or not, its email key, and whether possync created it."""
    states = {}
    if kind == "lightspeed-r":
        for record in fake.store.all():
            emails = record["contact"]["emails"]
            pos_id = str(record["customerID"])
            states[pos_id] = PosState(not record["archived"], email_key(emails[0]["address"] if emails else None),
                                      pos_id in known)
    elif kind == "lightspeed-x":
        for pos_id, record in fake.records.items():
            states[pos_id] = PosState(not record["deleted_at"], email_key(record["email"]), pos_id in known)
    else:
        for record in fake.records:
            pos_id = str(record["id"])
            states[pos_id] = PosState(bool(record["active"]) and not record.get("deleted_at"),
                                      email_key(record["email"]), pos_id in known)
    return states


# --- Shopify and the orders -----------------------------------------------------------------------------
def load_shopify(shop: Shop, corpus: Corpus) -> None:
    address = ADDRESSES[corpus.shape.region]
    for person in corpus.people:
        person.shopify_id = shop.shopify.add_customer(person.first_name, person.last_name, person.email,
                                                      person.phone, address=address, email_consent="SUBSCRIBED")


def order_body(corpus: Corpus, number: int, person: Person | None) -> dict[str, Any]:
    from possync.adapters.shopify.webhooks import address_payload, customer_payload, order_payload

    order_id = 9_000_000_000 + number
    if person is None:
        return order_payload(order_id, None, source_name="web")
    a = ADDRESSES[corpus.shape.region]
    home = address_payload(a["address1"], a["city"], a.get("provinceCode"), a["zip"], a["countryCode"],
                           first_name=person.first_name, last_name=person.last_name)
    customer = customer_payload(person.shopify_id, person.email, person.first_name, person.last_name, person.phone,
                                default_address=home)
    return order_payload(order_id, customer, billing_address=home, shipping_address=home, source_name="web")


@dataclass
class Firing:
    sent: int = 0
    accepted: int = 0
    started: float = 0.0
    finished: float = 0.0


def fire_orders(shop: Shop, corpus: Corpus, fake: Any, pos_ids: dict[str, str], say: Say) -> Firing:
    """Every order as a signed webhook at the shape's rate; `pos_recent` records created just before."""
    from possync.adapters.shopify.webhooks import send_webhook

    rate = corpus.shape.orders_per_second
    firsts: dict[int, int] = {}
    for number, index in enumerate(corpus.orders):
        if index is not None:
            firsts.setdefault(index, number)
    recent_due = sorted((firsts[i] / rate - RECENT_LEAD_SECONDS, i) for i in corpus.recent if i in firsts)
    local = threading.local()
    firing = Firing()
    lock = threading.Lock()
    url = f"{shop.receiver_url}/webhooks/shopify"

    def send(number: int, index: int | None) -> None:
        session = getattr(local, "session", None) or requests.Session()
        local.session = session
        body = order_body(corpus, number, corpus.person(index) if index is not None else None)
        response = send_webhook(url, "orders/create", body, shop.secret, shop.domain, session=session, timeout=30)
        with lock:
            firing.accepted += response.status_code == 200
        if index is not None and response.status_code == 200:
            for ref in corpus.person(index).pos_refs[:1]:
                fake.order_delivered(pos_ids.get(ref, ""))

    with ThreadPoolExecutor(max_workers=8) as pool:
        firing.started = time.time()
        for number, index in enumerate(corpus.orders):
            at = firing.started + number / rate
            while recent_due and firing.started + recent_due[0][0] <= time.time() + 0.001:
                _, person_index = recent_due.pop(0)
                seed = corpus.recent[person_index]
                [pos_id] = fake.seed([vendor_record(shop.kind, fake, seed, corpus.shape.region, time.time())])
                pos_ids[seed.ref] = str(pos_id)
            time.sleep(max(0.0, at - time.time()))
            pool.submit(send, number, index)
            firing.sent += 1
    firing.finished = time.time()
    say(f"corpus: {shop.kind}: {firing.sent} orders sent in {firing.finished - firing.started:.0f} s")
    return firing


# --- reading the run back -------------------------------------------------------------------------------
def _scalar(database_url: str, query: str, **params: Any) -> Any:
    from possync.models.db import get_engine

    with get_engine(database_url).connect() as conn:
        return conn.execute(sa.text(query), params).scalar_one()


def settled(database_url: str, tenant_id: int, sent: int) -> bool:
    """Every delivery stored and handled, and no job pending or running."""
    events = _scalar(database_url, "SELECT count(*) FROM inbound_events WHERE tenant_id = :t AND status IN "
                                   "('processed', 'failed', 'ignored')", t=tenant_id)
    busy = _scalar(database_url, "SELECT count(*) FROM sync_jobs WHERE tenant_id = :t AND status IN "
                                 "('pending', 'running')", t=tenant_id)
    return events >= sent and busy == 0


def links_of(database_url: str, tenant_id: int) -> dict[str, str]:
    from possync.models.db import get_engine

    with get_engine(database_url).connect() as conn:
        rows = conn.execute(sa.text("SELECT shopify_customer_id, pos_customer_id FROM customer_links "
                                    "WHERE tenant_id = :t"), {"t": tenant_id})
        return {str(s): str(p) for s, p in rows}


@dataclass
class JobFigures:
    synced: int  # distinct Shopify customers with a succeeded job
    failed: int
    failures: list[str]  # a few reasons
    latencies: list[float]  # seconds from the delivery stored to its job finished, succeeded jobs


def job_figures(database_url: str, tenant_id: int) -> JobFigures:
    from possync.models.db import get_engine

    with get_engine(database_url).connect() as conn:
        synced = conn.execute(sa.text(
            "SELECT count(DISTINCT subject) FROM sync_jobs WHERE tenant_id = :t AND status = 'succeeded' "
            "AND direction = 'shopify_to_pos' AND subject IS NOT NULL AND outcome <> 'default_customer'"),
            {"t": tenant_id}).scalar_one()
        failed = conn.execute(sa.text("SELECT last_error FROM sync_jobs WHERE tenant_id = :t AND status = 'failed'"),
                              {"t": tenant_id}).scalars().all()
        latencies = conn.execute(sa.text(
            "SELECT extract(epoch FROM j.finished_at - e.received_at) FROM sync_jobs j JOIN inbound_events e "
            "ON e.id = j.event_id WHERE j.tenant_id = :t AND j.status = 'succeeded' AND j.finished_at IS NOT NULL"),
            {"t": tenant_id}).scalars().all()
    return JobFigures(int(synced), len(failed), [str(f)[:120] for f in failed[:3]], [float(v) for v in latencies])


@dataclass
class Measured:
    shape: Shape
    tally: Tally
    writes_to_archived: int
    pos_reads: int
    pos_writes: int
    pos_429: int
    shopify_requests: int
    throttled: int
    deliveries: int
    seconds: float
    jobs: JobFigures
    finished: bool
    onboarding: str


def measure(s: Stack, shape: Shape, say: Say, *, seed: int = SEED, timeout: float = 3600.0,
            tamper: Callable[[Stack, Shop, Corpus, dict[str, str]], None] | None = None) -> Measured:
    """One POS's corpus run on an open stack whose receiver and workers are up.

    `tamper(stack, shop, corpus, pos_ids)` runs after the jobs settle and before the accounting (tests:
    a deliberately wrong link must be counted as one).
    """
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # the receiver's line per request
    corpus = make_corpus(shape, seed)
    fake = make_fake(shape)
    walk_in = PosSeed("walk-in", "Walk-in", "Customer", WALK_IN_EMAIL, None, bulk=False)
    heartland = shape.kind == "heartland"  # its orders without a customer go to the default customer (rule 23)
    walk_in_ids = fake.seed([vendor_record(shape.kind, fake, walk_in, shape.region, time.time())]) if heartland else []
    pos_ids = load_pos(shape.kind, fake, corpus, time.time())
    settings: dict[str, Any] = {"default_phone_region": shape.region, "sync_pos_to_shopify": False}
    if heartland:
        settings["default_customer_id"] = WALK_IN_SHOPIFY_ID  # a Shopify customer id (INTERFACE.md)
    shop = s.add_shop(shape.kind, pos=fake, settings=settings, shopify_limit=2000.0)
    if shape.limit is None:
        s.lift_limiter(shop)  # the fake sends no limit headers: tell the limiter, as a vendor's would
    if heartland:
        shop.shopify.add_customer("Walk-in", "Customer", WALK_IN_EMAIL, id=WALK_IN_SHOPIFY_ID,
                                  address=ADDRESSES[shape.region])
    load_shopify(shop, corpus)
    say(f"corpus: {shape.kind}: {len(corpus.people)} Shopify customers, {len(corpus.pos)} POS customers, "
        f"{len(corpus.orders)} orders")
    onboarding = onboard(s, shop, say)
    # The receiver learns new shops at most every few seconds (an unknown shop costs no query); a tenant
    # whose import took less than that would have its first orders refused (and retried by Shopify).
    time.sleep(KNOWN_SHOPS_TTL_SECONDS)
    fake.archive_on_read.update(pos_ids[p.pos_refs[0]] for p in corpus.people if p.case == "archived_mid_sync")
    pos_before, shopify_before = len(fake.vendor_requests()), len(shop.shopify.vendor_requests())
    throttled_before = shop.shopify.throttled

    firing = fire_orders(shop, corpus, fake, pos_ids, say)
    try:
        wait_for(lambda: settled(s.database_url, shop.tenant_id, firing.accepted), timeout, 1.0,
                 f"the {shape.kind} corpus to settle")
        finished = True
    except TimeoutError:
        finished = False
    seconds = time.time() - firing.started
    if tamper is not None:
        tamper(s, shop, corpus, pos_ids)

    known = set(pos_ids.values()) | {str(w) for w in walk_in_ids}
    counted = tally(corpus.people, pos_ids, links_of(s.database_url, shop.tenant_id),
                    pos_states(shape.kind, fake, known))
    pos_log = fake.vendor_requests()[pos_before:]
    say(f"corpus: {shape.kind}: POS requests by kind: {request_kinds(pos_log)}")
    return Measured(
        shape=shape, tally=counted, writes_to_archived=len(fake.writes_to_archived),
        pos_reads=sum(r.method == "GET" for r in pos_log), pos_writes=sum(r.method != "GET" for r in pos_log),
        pos_429=sum(r.status == 429 for r in pos_log),
        shopify_requests=len(shop.shopify.vendor_requests()) - shopify_before,
        throttled=shop.shopify.throttled - throttled_before, deliveries=firing.accepted, seconds=seconds,
        jobs=job_figures(s.database_url, shop.tenant_id), finished=finished, onboarding=onboarding)


def request_kinds(log: list[Any]) -> str:
    """The POS requests of a run by method and path shape (ids as `{id}`), most frequent first: where
    the requests per synced customer go."""
    kinds = Counter(f"{r.method} {ID_IN_PATH.sub('/{id}', r.path)}" for r in log)
    return ", ".join(f"{kind} {n}" for kind, n in kinds.most_common())


# --- the report -----------------------------------------------------------------------------------------------
def results(m: Measured) -> list[Result]:
    kind, t = m.shape.label, m.tally
    limit = "no limit" if m.shape.limit is None else (
        "bucket {:g} draining {:g}/s" if m.shape.kind == "lightspeed-r" else "{:g} requests per {:g} s").format(
        *m.shape.limit)
    how = (f"{m.shape.shopify_customers} Shopify / {m.shape.pos_customers} POS customers, "
           f"{m.deliveries} orders at {m.shape.orders_per_second:g}/s; POS {limit}; "
           f"{WORKER_PROCESSES} worker processes; {m.onboarding}")
    done = "" if m.finished else "; NOT SETTLED before the timeout"
    examples = "; ".join(f"{k}: {', '.join(v)}" for k, v in t.examples.items())
    synced = max(1, m.jobs.synced)
    pos_per_sync = (m.pos_reads + m.pos_writes) / synced
    shopify_per_delivery = m.shopify_requests / max(1, m.deliveries)
    throttled = m.throttled / max(1, m.shopify_requests)
    failed = f"{m.jobs.failed} failed jobs" + (f" ({'; '.join(m.jobs.failures)})" if m.jobs.failures else "")
    p50 = percentile(m.jobs.latencies, 50) if m.jobs.latencies else 0.0
    p99 = percentile(m.jobs.latencies, 99) if m.jobs.latencies else 0.0
    return [
        Result(f"corpus {kind}: duplicated customers", t.duplicated, "", "0", t.duplicated == 0 and m.finished,
               f"{how}; {t.checked} customers with orders checked against the truth table{done}"),
        Result(f"corpus {kind}: missing (ordered, no active POS link)", t.missing, "", "0", t.missing == 0,
               failed),
        Result(f"corpus {kind}: wrong links", t.wrong_links, "", "0", t.wrong_links == 0, examples or "none"),
        Result(f"corpus {kind}: writes to archived POS records", m.writes_to_archived, "", "0",
               m.writes_to_archived == 0, "PUT/POST at a customer archived (X-Series: deleted) at that moment"),
        Result(f"corpus {kind}: POS requests per synced customer", pos_per_sync, "requests",
               f"<= {POS_REQUESTS_PER_SYNC_TARGET:g}", pos_per_sync <= POS_REQUESTS_PER_SYNC_TARGET,
               f"{m.pos_reads / synced:.2f} reads + {m.pos_writes / synced:.2f} writes; {m.jobs.synced} customers "
               f"synced; {m.pos_429} answered 429; onboarding not counted"),
        Result(f"corpus {kind}: Shopify requests per delivery", shopify_per_delivery, "requests",
               f"<= {SHOPIFY_REQUESTS_PER_DELIVERY_TARGET:g}",
               shopify_per_delivery <= SHOPIFY_REQUESTS_PER_DELIVERY_TARGET,
               f"{m.shopify_requests} requests for {m.deliveries} deliveries; Shopify fake 2000 points, 100/s"),
        Result(f"corpus {kind}: THROTTLED answers", throttled * 100, "%", f"<= {THROTTLED_TARGET:.0%}",
               throttled <= THROTTLED_TARGET, f"{m.throttled} of {m.shopify_requests} Shopify requests"),
        Result(f"corpus {kind}: total time", m.seconds, "s", "(informational)", m.finished,
               "first webhook sent to the last job finished"),
        Result(f"corpus {kind}: webhook -> POS p50 / p99", p50, "s", "(informational)", m.finished,
               f"p99 {p99:.1f} s; delivery stored to its job finished, {len(m.jobs.latencies)} jobs"),
    ]


def shapes(small: bool) -> list[Shape]:
    return [shape.scaled(SMALL_FACTOR[shape.label]) if small else shape for shape in SHAPES]


def run(progress: Say | None = None, small: bool = False, only: Collection[str] = ()) -> list[Result]:
    """Every shape, or those whose label is in `only` (`python -m bench.corpus heartland`: one full-size POS)."""
    say = progress or (lambda _text: None)
    rows: list[Result] = []
    with stack("corpus") as s:  # one POS after the other, each its own tenant and fakes
        s.start_receiver()
        s.start_worker("--concurrency", str(WORKER_PROCESSES))
        for shape in shapes(small):
            if not only or shape.label in only:
                rows += results(measure(s, shape, say, timeout=180.0 if small else 3600.0))
    return rows


if __name__ == "__main__":
    labels = [arg for arg in sys.argv[1:] if not arg.startswith("--")]
    print(render(run(lambda text: print(text, file=sys.stderr, flush=True), small="--small" in sys.argv,
                     only=labels)))
