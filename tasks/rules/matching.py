"""Finding the POS customer for a Shopify customer before anything is created (SPEC rules 6 to 11, 33).

1. Keys in the tenant's order (`customer_matching`: `email,phone`, `phone,email`, `email`, `phone`);
   emails by `email_key`, phones by `phone_key` in the tenant's region (rules 7, 8).
2. possync's POS index first (rule 9): the first key with an active candidate decides.
3. Only when the index knows nobody for any key: a confirming vendor search per key, in order. Vendor
   searches are fuzzy or exact-text, so results are re-checked with our keys, and every result is
   indexed (it is a POS customer we have now read) before deciding.
4. Several active candidates: the oldest (lowest `age_key`, then id) with `ambiguous=True`, so an
   operator can see it; never a new customer in that case (rule 11).
5. Nothing: `pos_id=None`, the caller creates (a different email and phone is a different customer,
   rule 10).
6. A record found by phone whose email differs from the customer's is another person (rule 10 as
   amended: a shared or recycled number, or a stranger's number typed online). `conflicting` says what
   then: `new` (default) leaves it out, so the caller creates, and reports it as `near_match`;
   `update` matches it as any other (Mortar's behaviour); `link` matches it with `contradicted=True`,
   so the caller links without writing that person's email, phone or names. An email match is never
   contradicted by a different phone (households share phones; numbers change).

Rule 33 (no duplicate on concurrent events) relies on step 2: the caller serialises work per customer
and indexes the customer it creates in the same transaction as the link, so the next event finds it.
`choose_candidate` is the pure core, measured by `bench.rules` without a database.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Literal, Protocol

from sqlalchemy.orm import Session

from possync.adapters.base import PosAdapter, PosCustomer
from possync.models.customer import Customer
from possync.models.pos_index import index_customers, lookup
from possync.models.tables import PosStatus
from possync.tasks.rules.keys import email_key, fast_phone_key

Via = Literal["index", "vendor"]
KeyKind = Literal["email", "phone"]
MATCH_KINDS: tuple[KeyKind, ...] = ("email", "phone")
CONFLICTING_MATCH_CHOICES = ("new", "update", "link")


@dataclass(frozen=True)
class NearMatch:
    """A record one key found and another key contradicts: by rule 10, another person."""

    pos_id: str
    matched_on: KeyKind = "phone"
    differs: KeyKind = "email"

    def to_json(self) -> dict[str, str]:
        return {"pos_id": self.pos_id, "matched_on": self.matched_on, "differs": self.differs}


@dataclass(frozen=True)
class MatchResult:
    pos_id: str | None
    via: Via | None
    ambiguous: bool = False
    candidates: list[str] = field(default_factory=list)  # every active candidate id, oldest first
    matched_on: KeyKind | None = None  # which key found it (for the job record)
    near_match: NearMatch | None = None  # a contradicted record (rule 10), whatever was decided about it
    contradicted: bool = False  # the chosen record is that near match (`conflicting="link"` or `"update"`)

    @property
    def found(self) -> bool:
        return self.pos_id is not None


NO_MATCH = MatchResult(pos_id=None, via=None)


class Candidate(Protocol):
    """What choosing needs of a candidate; `PosIndexEntry` rows and `CandidateRow` both fit."""

    @property
    def pos_customer_id(self) -> str: ...
    @property
    def age_key(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def email_key(self) -> str | None: ...


@dataclass(frozen=True)
class CandidateRow:
    pos_customer_id: str
    age_key: str
    status: str = PosStatus.ACTIVE.value
    email_key: str | None = None

    @classmethod
    def of(cls, pos_customer: PosCustomer) -> CandidateRow:
        return cls(pos_customer.pos_id, pos_customer.age_key, PosStatus(pos_customer.status).value,
                   email_key(pos_customer.customer.email))


def contradicts(found_email_key: str | None, wanted_email_key: str | None) -> bool:
    """Rule 10: both sides have an email and they differ (a missing email contradicts nothing)."""
    return bool(found_email_key and wanted_email_key and found_email_key != wanted_email_key)


def choose_with_conflicts(candidates: Iterable[Candidate], *, via: Via, matched_on: KeyKind,
                          wanted_email_key: str | None, conflicting: str) -> MatchResult | None:
    """`choose_candidate` with rule 10 applied to phone matches (module docstring, point 6)."""
    candidates = list(candidates)
    if matched_on != "phone" or conflicting == "update":
        result = choose_candidate(candidates, via=via, matched_on=matched_on)
        if result is None or matched_on != "phone":
            return result
        chosen = next(c for c in candidates if c.pos_customer_id == result.pos_id)
        if not contradicts(chosen.email_key, wanted_email_key):
            return result
        return replace(result, near_match=NearMatch(result.pos_id or ""), contradicted=True)
    consistent = [c for c in candidates if not contradicts(c.email_key, wanted_email_key)]
    result = choose_candidate(consistent, via=via, matched_on=matched_on)
    if result is not None:
        return result
    other = choose_candidate(candidates, via=via, matched_on=matched_on)
    if other is None:
        return None
    near = NearMatch(other.pos_id or "")
    if conflicting == "link":
        return replace(other, near_match=near, contradicted=True)
    return replace(NO_MATCH, near_match=near)


def match_keys(customer: Customer, order: Sequence[str], region: str) -> list[tuple[KeyKind, str]]:
    """The (kind, key) pairs to try, in the tenant's order, skipping kinds the customer has no value for."""
    keys: list[tuple[KeyKind, str]] = []
    for kind in order:
        kind = kind.strip().lower()
        if kind == "email":
            key = email_key(customer.email)
        elif kind == "phone":
            key = fast_phone_key(customer.phone, region)
        else:
            raise ValueError(f"unknown customer_matching key {kind!r} (expected email or phone)")
        if key is not None and all(k != kind for k, _ in keys):
            keys.append((kind, key))  # type: ignore[arg-type]
    return keys


def choose_candidate(
    candidates: Iterable[Candidate], *, via: Via, matched_on: KeyKind | None = None
) -> MatchResult | None:
    """The oldest active candidate (deterministic: age key, then id); None when none is active."""
    active = {c.pos_customer_id: c for c in candidates if c.status == PosStatus.ACTIVE.value}
    if not active:
        return None
    ordered = sorted(active.values(), key=lambda c: (c.age_key, c.pos_customer_id))
    ids = [c.pos_customer_id for c in ordered]
    return MatchResult(pos_id=ids[0], via=via, ambiguous=len(ids) > 1, candidates=ids, matched_on=matched_on)


def find_match(
    customer: Customer,
    *,
    order: Sequence[str],
    region: str,
    session: Session,
    tenant_id: int,
    adapter: PosAdapter | None,
    conflicting: str = "new",
) -> MatchResult:
    """The POS customer to link `customer` to, or `NO_MATCH` (create one). See the module docstring.

    Vendor errors (`RetryableError`, `RateLimitedError`, ...) propagate to the caller's retry policy;
    index rows already written for earlier search results stay in the caller's transaction.
    """
    keys = match_keys(customer, order, region)
    if not keys:
        return NO_MATCH  # no email and no phone: nothing to look up or search for, so a new customer
    wanted = email_key(customer.email)
    near: NearMatch | None = None
    by_kind = dict(keys)
    rows = lookup(session, tenant_id, email_key=by_kind.get("email"), phone_key=by_kind.get("phone"))
    for kind, key in keys:
        entries = [row for row in rows if getattr(row, f"{kind}_key") == key]
        result = choose_with_conflicts(entries, via="index", matched_on=kind, wanted_email_key=wanted,
                                       conflicting=conflicting)
        if result is not None and result.found:
            return result
        near = near or (result.near_match if result else None)
    if adapter is None:
        return replace(NO_MATCH, near_match=near)
    for kind, key in keys:
        found = _vendor_search(adapter, customer, kind, key)
        if found:
            index_customers(session, tenant_id, found, region)
        confirmed = [CandidateRow.of(p) for p in found if _key_of(p.customer, kind, region) == key]
        result = choose_with_conflicts(confirmed, via="vendor", matched_on=kind, wanted_email_key=wanted,
                                       conflicting=conflicting)
        if result is not None and result.found:
            return result
        near = near or (result.near_match if result else None)
    return replace(NO_MATCH, near_match=near)


def _vendor_search(adapter: PosAdapter, customer: Customer, kind: KeyKind, key: str) -> list[PosCustomer]:
    if kind == "email":
        return adapter.search_by_email(key)  # the trimmed, lower-cased form: vendor case rules are undocumented
    return adapter.search_by_phone((customer.phone or "").strip())


def _key_of(customer: Customer, kind: KeyKind, region: str) -> str | None:
    return email_key(customer.email) if kind == "email" else fast_phone_key(customer.phone, region)
