"""Requests each POS adapter makes for one operation, counted in its fake's own request log.

Each adapter is built the way the pipeline builds it (`possync.adapters.registry.make_pos_adapter` from the
tenant row, secrets decrypted) against its fake on 127.0.0.1, without the shared limiter. Counts are
exact, not timings: a regression shows as a number, not as noise. Also: with the customer already in
the POS index, `possync.tasks.rules.matching.find_match` must not ask the vendor anything (SPEC rule 9).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from bench.table import Result, render
from possync.adapters.base import PosAdapter
from possync.models.customer import Address, Customer
from testing.stack import KINDS, Shop, Stack, stack

SHORT = {"lightspeed-r": "R", "lightspeed-x": "X", "heartland": "Heartland"}
POLL_MAX_PAGES = 50


def _customer(i: int) -> Customer:
    home = Address("150 Elgin St", None, "Ottawa", "ON", "K2P 1L4", "CA")
    return Customer(first_name=f"Ann{i}", last_name=f"Lee{i}", email=f"ann.lee{i}@example.com",
                    phone=f"+1 613-555-{i:04d}", billing_address=home)


def _adapter(s: Stack, shop: Shop) -> PosAdapter:
    from possync.adapters.registry import make_pos_adapter
    from possync.models.db import session_scope
    from possync.models.tables import Tenant
    from possync.models.tenants import load_context

    with session_scope(s.database_url) as session:
        context = load_context(session.get_one(Tenant, shop.tenant_id), s.secret_key)
    return make_pos_adapter(context)


def _count(shop: Shop, action: Callable[[], Any]) -> tuple[int, Any]:
    before = len(shop.pos.vendor_requests())
    value = action()
    return len(shop.pos.vendor_requests()) - before, value


def _drain(adapter: PosAdapter, cursor: str | None) -> str | None:
    for _ in range(POLL_MAX_PAGES):
        page = adapter.changes_since(cursor)
        cursor = page.next_cursor or cursor
        if not page.has_more:
            return cursor
    raise RuntimeError("the poll never reached its end")


def measure_kind(s: Stack, kind: str) -> dict[str, int]:
    from possync.models.db import session_scope
    from possync.models.pos_index import index_customers
    from possync.tasks.rules.matching import find_match

    shop = s.add_shop(kind)
    adapter = _adapter(s, shop)
    for i in range(3):  # others in the POS, so searches have something to skip
        adapter.create_customer(_customer(100 + i))
    counts: dict[str, int] = {}
    wanted = _customer(1)
    counts["create"], created = _count(shop, lambda: adapter.create_customer(wanted))
    counts["get by id"], got = _count(shop, lambda: adapter.get_customer(created.pos_id))
    counts["search by email"], by_email = _count(shop, lambda: adapter.search_by_email(wanted.email or ""))
    counts["search by phone"], _ = _count(shop, lambda: adapter.search_by_phone(wanted.phone or ""))
    counts["update one field"], _ = _count(shop, lambda: adapter.update_customer(created.pos_id,
                                                                                 {"last_name": "Changed"}))
    cursor = _drain(adapter, None)
    counts["poll, no changes"], _ = _count(shop, lambda: _drain(adapter, cursor))
    if got is None or created.pos_id not in [p.pos_id for p in by_email]:
        raise RuntimeError(f"{kind}: the created customer was not read back by id and email")
    with session_scope(s.database_url) as session:
        index_customers(session, shop.tenant_id, [got], "US")
        session.commit()
        counts["match, customer in the index"], match = _count(shop, lambda: find_match(
            wanted, order=("email", "phone"), region="US", session=session, tenant_id=shop.tenant_id,
            adapter=adapter))
    if match.pos_id != created.pos_id or match.via != "index":
        raise RuntimeError(f"{kind}: find_match did not find the indexed customer ({match})")
    return counts


def _row(name: str, by_kind: dict[str, dict[str, int]], op: str, limit: int | None, kinds: tuple[str, ...] = KINDS,
         target: str | None = None) -> Result:
    values = {k: by_kind[k][op] for k in kinds}
    worst = max(values.values())
    note = ", ".join(f"{SHORT[k]} {v}" for k, v in values.items())
    if limit is None:
        return Result(name, worst, "requests", target or "(informational)", True, note + " (most shown)")
    return Result(name, worst, "requests", target or ("0" if limit == 0 else f"<= {limit}" if limit > 1 else "1"),
                  worst <= limit, note)


def run(progress: Callable[[str], None] | None = None) -> list[Result]:
    say = progress or (lambda _text: None)
    by_kind: dict[str, dict[str, int]] = {}
    with stack("adapters") as s:
        for kind in KINDS:
            say(f"adapters: {kind} ...")
            by_kind[kind] = measure_kind(s, kind)
    return [
        _row("adapter requests: get by id", by_kind, "get by id", 1),
        _row("adapter requests: search by email", by_kind, "search by email", 1),
        _row("adapter requests: create (R-Series, X-Series)", by_kind, "create", 1, ("lightspeed-r", "lightspeed-x")),
        _row("adapter requests: create (Heartland, one address)", by_kind, "create", 3, ("heartland",)),
        _row("adapter requests: poll with no changes", by_kind, "poll, no changes", 1),
        _row("adapter requests: match with the customer in the POS index", by_kind, "match, customer in the index",
             0),
        _row("adapter requests: search by phone", by_kind, "search by phone", None),
        _row("adapter requests: update one field", by_kind, "update one field", None),
    ]


if __name__ == "__main__":
    print(render(run(lambda text: print(text, file=sys.stderr, flush=True))))
