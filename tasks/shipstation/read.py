"""Reading a tenant's ShipStation customers into possync (SPEC rule 46).

Pages come newest first by modify date. The first read takes every page; later ones stop at the first
record older than the newest one already read (V1 has no "modified since" filter, so sorting is the
filter). Each page commits with its records; the read's cursor moves only once the read is whole, so
an interrupted read starts again from the top and misses nothing. The account's tags come first (one
request), so the export can say when a tag rule names a tag ShipStation lacks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from operator import methodcaller
from typing import Any, TypeVar

from sqlalchemy.orm import Session

from possync.adapters.errors import AdapterError, RateLimitedError
from possync.adapters.shipstation.client import MAX_PAGE_SIZE, ShipStationClient
from possync.models.tables import ShipStationRead
from possync.tasks.shipstation import records as shipstation

T = TypeVar("T")
Wait = Callable[[RateLimitedError], None]


@dataclass
class ReadSummary:
    full: bool
    pages: int = 0
    customers: int = 0
    requests: int = 0

    def to_json(self) -> dict[str, object]:
        return {"full": self.full, "pages": self.pages, "customers": self.customers, "requests": self.requests}


def read_customers(session: Session, tenant_id: int, make_client: Callable[[], ShipStationClient], *,
                   region: str, on_wait: Wait, page_size: int = MAX_PAGE_SIZE, full: bool = False) -> ReadSummary:
    """Read what changed since the last read (everything the first time, or with `full`).

    `make_client` builds a client wired to the shared limiter, one per request (each request is a turn
    of its own); `on_wait(exc)` waits out a limiter wait or a 429's cooldown before the request is sent again.
    """
    state = session.get(ShipStationRead, tenant_id)
    if state is None:
        state = ShipStationRead(tenant_id=tenant_id, tags=[], customers_read=0, requests=0)
        session.add(state)
        session.commit()
    since = None if full else state.modified_since
    summary = ReadSummary(full=since is None)
    sent = [0]

    def call(request: Callable[[ShipStationClient], T]) -> T:
        while True:
            client = make_client()
            try:
                return request(client)
            except RateLimitedError as exc:
                on_wait(exc)
            finally:
                sent[0] += client.stats.requests

    try:
        return _read(session, state, since, summary, call, region, page_size, sent)
    except AdapterError as exc:  # kept for the operator; the cursor stays where the last whole read left it
        session.rollback()
        state.last_error = str(exc)[:2000]
        session.commit()
        raise


def _read(session: Session, state: ShipStationRead, since: datetime | None, summary: ReadSummary,
          call: Callable[[Callable[[ShipStationClient], Any]], Any], region: str, page_size: int,
          sent: list[int]) -> ReadSummary:
    tenant_id = state.tenant_id
    tags = call(lambda client: client.list_tags())
    newest = since
    page_number, done = 1, False
    while not done:
        page = call(methodcaller("list_customers", page_number, page_size))
        fresh = [c for c in page.customers if since is None or c.modify_date is None or c.modify_date >= since]
        shipstation.store(session, tenant_id, fresh, region)
        stamps = [c.modify_date for c in fresh if c.modify_date is not None]
        newest = max([newest, *stamps]) if newest is not None else (max(stamps) if stamps else None)
        session.commit()
        summary.pages += 1
        summary.customers += len(fresh)
        done = len(fresh) < len(page.customers) or page_number >= page.pages
        page_number += 1
    state.modified_since = newest
    state.tags = tags
    state.last_read_at = datetime.now(UTC)
    state.customers_read = summary.customers
    summary.requests = sent[0]
    state.requests = summary.requests
    state.last_error = None
    session.commit()
    return summary
