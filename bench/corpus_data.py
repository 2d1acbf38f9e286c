"""The corpus of `bench.corpus`: a merchant's customers as a seeded generator makes them, with the truth
table of what each Shopify customer must end up as, and the accounting of a run against it.

Pure data, no I/O: `make_corpus(shape, seed)` gives the Shopify customers, the POS customers to pre-load
(most sharing one bulk-import second), the orders and, for each Shopify customer, the POS record it must
be linked to at the end (`expected`: a pre-loaded POS record, or None for a POS customer possync creates).
`tally()` compares a run's end state with that truth.

Kinds of Shopify customer (`Person.case`), each a way real data breaks naive matching:
- `email`: the POS record has the same email;
- `email_messy`: the POS email has stray blanks and another case (rule 7: still the same person);
- `phone_only`: the POS record has no email and the phone as typed at a till (rule 8);
- `ambiguous`: two POS records with that email; the oldest wins (rule 11);
- `conflict`: a POS record with the same phone but another email: another person, a new customer
  (rule 10 as amended, `conflicting_match: new`);
- `archived`: the only POS record with that email is archived: a new customer (rule 12);
- `archived_mid_sync`: its POS record is archived in the POS while its sync runs (the bench archives it
  on the first read of it): matched again, a new customer, no failed job, no write to it (rule 37);
- `pos_recent`: created in the POS (till phone, messy email) seconds before its first order, after
  the last poll (rule 36): linked to that record;
- `new`: nobody in the POS.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

CASES = ("email", "email_messy", "phone_only", "ambiguous", "conflict", "archived", "archived_mid_sync",
         "pos_recent", "new")
# Share of the Shopify customers who order in the run, per case (the rest of them are `new`).
CASE_SHARES = {"email": 0.20, "email_messy": 0.06, "phone_only": 0.06, "ambiguous": 0.03, "conflict": 0.03,
               "archived": 0.03, "archived_mid_sync": 0.02, "pos_recent": 0.02}
ORDERING_SHARE = 0.6  # Shopify customers with at least one order in the run
NO_CUSTOMER_SHARE = 0.05  # orders without a customer
BULK_SHARE = 0.85  # POS customers created by the bulk import (one timestamp)


@dataclass(frozen=True)
class Shape:
    """One POS's run: its corpus sizes, the webhook rate and the POS fake's limit."""

    kind: str
    shopify_customers: int
    pos_customers: int
    orders: int
    region: str = "CA"  # the tenant's `default_phone_region`
    orders_per_second: float = 50.0
    # R-Series: leaky bucket (size, drain per second); X-Series and Heartland: a window (requests, seconds);
    # None: the POS without a limit, so Shopify's is the one met.
    limit: tuple[float, float] | None = (40.0, 20.0)

    @property
    def label(self) -> str:
        return self.kind if self.limit else f"{self.kind} unlimited"

    def scaled(self, factor: float) -> Shape:
        """The same mix with `factor` times the customers and orders (at least a few of each)."""
        return Shape(self.kind, max(24, round(self.shopify_customers * factor)),
                     max(16, round(self.pos_customers * factor)), max(36, round(self.orders * factor)),
                     self.region, self.orders_per_second, self.limit)


@dataclass
class Person:
    """One Shopify customer and what the run must make of it."""

    index: int
    case: str
    first_name: str
    last_name: str
    email: str
    phone: str  # as Shopify stores it (E.164 formatted for display)
    orders: int = 0
    shopify_id: str = ""  # set when added to the Shopify fake
    expected: str | None = None  # truth: the pre-loaded POS record to link to; None: a new POS customer
    pos_refs: list[str] = field(default_factory=list)  # corpus refs of its POS records (truth first)


@dataclass
class PosSeed:
    """A POS customer to pre-load (or, `pos_recent`, to add during the run): vendor-neutral fields."""

    ref: str  # the corpus's own name for it; the POS id is known once loaded
    first_name: str
    last_name: str
    email: str | None
    phone: str | None  # as typed at a till
    archived: bool = False
    bulk: bool = True  # created by the bulk import (one shared timestamp)
    age: int = 0  # creation order among records; lower is older


@dataclass
class Corpus:
    shape: Shape
    people: list[Person]
    pos: list[PosSeed]  # pre-loaded, oldest first
    recent: dict[int, PosSeed]  # person index -> the record created just before its first order
    orders: list[int | None]  # person index per order, in sending order; None: no customer

    def person(self, index: int) -> Person:
        return self.people[index]


# --- phones ---------------------------------------------------------------------------------------------
STORE_ONLY = 500_000  # numbers of POS-only customers start here, apart from the online customers'


def _gb_area(n: int) -> tuple[str, str]:
    """UK numbers set aside for drama (Ofcom): London 020 7946 0xxx online, Manchester 0161 496 0xxx in store."""
    return ("20 7946", "020 7946") if n < STORE_ONLY else ("161 496", "0161 496")


def shopify_phone(region: str, n: int) -> str:
    if region == "GB":
        return f"+44 {_gb_area(n)[0]} {n % 1000:04d}"
    return f"+1 613-{200 + n // 10000 % 800:03d}-{n % 10000:04d}"


def till_phone(region: str, n: int, style: int) -> str:
    """The same number as staff type it: national, with brackets, dots or nothing."""
    if region == "GB":
        area, number = _gb_area(n)[1], f"{n % 1000:04d}"
        code, local = area.split(" ", 1)
        return (f"{area} {number}", f"{code}{local.replace(' ', '')}{number}", f"({code}) {local} {number}")[style % 3]
    exchange, line = f"{200 + n // 10000 % 800:03d}", f"{n % 10000:04d}"
    return (f"(613) {exchange}-{line}", f"613.{exchange}.{line}", f"613{exchange}{line}")[style % 3]


def messy(email: str, rng: random.Random) -> str:
    """An email as keyed in a POS: stray blanks around it, another case."""
    changed = email.upper() if rng.random() < 0.5 else email[0].upper() + email[1:]
    return rng.choice((" ", "  ", "\t")) + changed + rng.choice((" ", "", "  "))


# --- the generator ----------------------------------------------------------------------------------------
def make_corpus(shape: Shape, seed: int = 14) -> Corpus:
    rng = random.Random(seed)
    n = shape.shopify_customers
    ordering = max(len(CASES), round(n * ORDERING_SHARE))
    cases: list[str] = []
    for case, share in CASE_SHARES.items():
        cases += [case] * max(1, round(n * share))
    cases += ["new"] * max(1, ordering - len(cases))
    cases += ["quiet"] * max(0, n - len(cases))  # Shopify customers who do not order in the run
    rng.shuffle(cases)

    people: list[Person] = []
    pos: list[PosSeed] = []
    recent: dict[int, PosSeed] = {}
    age = 0

    def add_pos(seed_: PosSeed) -> PosSeed:
        nonlocal age
        seed_.age = age
        age += 1
        pos.append(seed_)
        return seed_

    for i, case in enumerate(cases):
        first, last = f"First{i}", f"Last{i}"
        person = Person(i, "new" if case == "quiet" else case, first, last, f"c{i}.corpus@example.com",
                        shopify_phone(shape.region, i))
        people.append(person)
        till = till_phone(shape.region, i, rng.randrange(3))
        ref = f"p{i}"
        if case in ("email", "archived", "archived_mid_sync"):
            phone = till if rng.random() < 0.5 else None
            add_pos(PosSeed(ref, first, last, person.email, phone, archived=case == "archived"))
            person.pos_refs.append(ref)
        elif case == "email_messy":
            add_pos(PosSeed(ref, first, last, messy(person.email, rng), till if rng.random() < 0.5 else None))
            person.pos_refs.append(ref)
        elif case == "phone_only":
            add_pos(PosSeed(ref, first, last, None, till))
            person.pos_refs.append(ref)
        elif case == "ambiguous":
            add_pos(PosSeed(ref, first, last, person.email, None))
            add_pos(PosSeed(f"{ref}b", first, last, person.email, till))
            person.pos_refs += [ref, f"{ref}b"]
        elif case == "conflict":
            add_pos(PosSeed(ref, f"Other{i}", last, f"someone.else{i}@example.com", till))
            person.pos_refs.append(ref)
        elif case == "pos_recent":
            recent[i] = PosSeed(ref, first, last, messy(person.email, rng), till, bulk=False)
            person.pos_refs.append(ref)
        person.expected = ref if case in ("email", "email_messy", "phone_only", "ambiguous", "pos_recent") else None
    for j in range(max(0, shape.pos_customers - len(pos))):  # POS-only customers (never online)
        add_pos(PosSeed(f"s{j}", f"Store{j}", f"Only{j}", f"store.only{j}@example.com",
                        till_phone(shape.region, STORE_ONLY + j, j)))
    for seed_ in pos:
        seed_.bulk = rng.random() < BULK_SHARE

    buyers = [p.index for p in people if cases[p.index] != "quiet"]
    orders: list[int | None] = list(buyers)  # everyone who orders orders at least once
    while len(orders) < shape.orders:
        orders.append(None if rng.random() < NO_CUSTOMER_SHARE else rng.choice(buyers))
    rng.shuffle(orders)
    for index in orders:
        if index is not None:
            people[index].orders += 1
    return Corpus(shape, people, pos, recent, orders)


# --- accounting -------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PosState:
    """A POS record at the end of the run."""

    active: bool
    email_key: str | None
    preloaded: bool  # there before the run (or added by the bench), not created by possync


@dataclass
class Tally:
    checked: int = 0  # Shopify customers with an order
    duplicated: int = 0  # ... with more POS records than the one the truth allows
    missing: int = 0  # ... with no active POS link at the end
    wrong_links: int = 0  # ... linked (actively) to another record than the truth's
    examples: dict[str, list[str]] = field(default_factory=dict)  # kind -> a few "case:shopify id" samples

    def note(self, kind: str, person: Person) -> None:
        samples = self.examples.setdefault(kind, [])
        if len(samples) < 5:
            samples.append(f"{person.case}:{person.shopify_id}")


def email_key(value: str | None) -> str | None:
    return value.strip().lower() or None if value else None


def verdicts(people: Iterable[Person], pos_ids: Mapping[str, str], links: Mapping[str, str],
             pos: Mapping[str, PosState]) -> dict[int, set[str]]:
    """What the end state got wrong for each Shopify customer with an order (person index -> faults:
    `duplicated`, `missing`, `wrong link`; empty when all is right).

    `pos_ids`: corpus ref -> POS id of the records the bench loaded; `links`: Shopify id -> POS id
    (possync's links at the end); `pos`: every POS record at the end by id.
    """
    created: dict[str, list[str]] = {}  # email key -> ids of records possync created with it
    for pos_id, state in pos.items():
        if not state.preloaded and state.email_key:
            created.setdefault(state.email_key, []).append(pos_id)
    found: dict[int, set[str]] = {}
    for person in people:
        if person.orders == 0:
            continue
        faults = found.setdefault(person.index, set())
        expected = pos_ids.get(person.expected) if person.expected else None
        own_new = created.get(email_key(person.email) or "", [])
        if len(own_new) + (1 if expected else 0) > 1:
            faults.add("duplicated")  # two POS records for one person
        linked = links.get(person.shopify_id)
        state = pos.get(linked) if linked else None
        if state is None or not state.active:
            faults.add("missing")
        elif (expected is not None and linked != expected) or (expected is None and linked not in own_new):
            faults.add("wrong link")
    return found


def tally(people: list[Person], pos_ids: Mapping[str, str], links: Mapping[str, str],
          pos: Mapping[str, PosState]) -> Tally:
    """The counts of `verdicts`, with a few examples of each fault."""
    result = Tally()
    for index, faults in verdicts(people, pos_ids, links, pos).items():
        result.checked += 1
        result.duplicated += "duplicated" in faults
        result.missing += "missing" in faults
        result.wrong_links += "wrong link" in faults
        for fault in sorted(faults):
            result.note(fault, people[index])
    return result
