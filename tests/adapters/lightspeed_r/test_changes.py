"""`changes_since`: a (timeStamp, customerID) keyset cursor, next-URL paging, fresh seconds, archived
customers, and a cursor that stays small whatever the data (SPEC rule 35)."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterator

import pytest

from possync.adapters.base import ChangePage
from possync.adapters.change_cursor import FRESH_MAX
from possync.adapters.errors import FatalError
from possync.adapters.lightspeed_r import LightspeedRAdapter
from possync.adapters.lightspeed_r.fake import FakeServer
from possync.models.tables import PosStatus
from tests.adapters.lightspeed_r.helpers import running

T0 = "2024-05-01T10:00:00+00:00"
NOW = 1_780_000_000.0  # the manual clock's start: long after T0
CURSOR_BOUND = 4096  # characters a stored cursor may take, whatever the data


class Clock:
    """A clock the test moves by hand: the fake stamps records and dates responses by it."""

    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def clocked(clock: Clock) -> Iterator[FakeServer]:
    """A fake on the manual clock, without rate limits (thousands of records, tens of pages)."""
    with running(FakeServer(account_id="12345", bucket_size=None, clock=clock)) as server:
        yield server


@pytest.fixture
def clocked_adapter(clocked: FakeServer, make: Callable[..., LightspeedRAdapter]) -> LightspeedRAdapter:
    return make(clocked)


def drain(adapter: LightspeedRAdapter, cursor: str | None,
          between: Callable[[int], None] | None = None) -> tuple[list[ChangePage], str | None]:
    """One poll as `possync.tasks.poll` runs it: pages until `has_more` is false or a page changes nothing (fresh
    records waiting to settle); `between(n)` runs after page n; every cursor is bounded."""
    pages = []
    while True:
        before = cursor
        page = adapter.changes_since(cursor)
        pages.append(page)
        cursor = page.next_cursor
        assert cursor is None or len(cursor) < CURSOR_BOUND, len(cursor)
        if between is not None:
            between(len(pages))
        if not page.has_more or (not page.customers and cursor == before):
            return pages, cursor


def ids_of(pages: list[ChangePage]) -> list[str]:
    return [c.pos_id for p in pages for c in p.customers]


def test_first_poll_returns_everyone_and_the_next_poll_nothing(fake: FakeServer, adapter: LightspeedRAdapter) -> None:
    ids = fake.seed([{"first_name": n, "time_stamp": T0} for n in ("A", "B", "C")])
    page = adapter.changes_since(None)
    assert sorted(p.pos_id for p in page.customers) == sorted(ids) and not page.has_more
    assert page.next_cursor is not None and json.loads(page.next_cursor)["ts"] == T0
    fake.reset()
    empty = adapter.changes_since(page.next_cursor)
    assert empty.customers == [] and not empty.has_more
    assert fake.count_requests() == 1  # an empty poll is one request
    assert empty.next_cursor == page.next_cursor
    query = fake.vendor_requests()[0].query
    assert "timeStamp=%3E%2C2024-05-01T10%3A00%3A00%2B00%3A00" in query  # after the settled second, + encoded
    assert "sort=timeStamp" in query and "archived=true" in query


def test_empty_account(fake: FakeServer, adapter: LightspeedRAdapter) -> None:
    page = adapter.changes_since(None)
    assert page == ChangePage(customers=[], next_cursor=None, has_more=False)
    assert fake.count_requests() == 1


def test_edits_after_the_cursor_come_back(fake: FakeServer, adapter: LightspeedRAdapter) -> None:
    ids = fake.seed([{"first_name": n, "time_stamp": T0} for n in ("A", "B")])
    cursor = adapter.changes_since(None).next_cursor
    fake.edit(ids[1], {"lastName": "Changed"})
    page = adapter.changes_since(cursor)
    assert [(p.pos_id, p.customer.last_name) for p in page.customers] == [(ids[1], "Changed")]
    assert adapter.changes_since(page.next_cursor).customers == []


def test_same_second_newcomer_is_not_missed(clocked: FakeServer, clocked_adapter: LightspeedRAdapter,
                                            clock: Clock) -> None:
    """A second still running when read is read again: a record written later in it is seen."""
    (first,) = clocked.seed([{"first_name": "A"}])
    cursor = clocked_adapter.changes_since(None).next_cursor
    (late,) = clocked.seed([{"first_name": "Late"}])  # the same second on the vendor's clock
    assert clocked.record(late)["timeStamp"] == clocked.record(first)["timeStamp"]
    page = clocked_adapter.changes_since(cursor)
    assert [p.pos_id for p in page.customers] == [late]
    clock.now += 5
    assert clocked_adapter.changes_since(page.next_cursor).customers == []


def test_same_second_edit_of_a_record_already_read_is_not_missed(
    clocked: FakeServer, clocked_adapter: LightspeedRAdapter, clock: Clock
) -> None:
    """The edge a bare keyset leaves: an edit in the very second of the read keeps the record's place
    (timeStamp, id) behind the position. The fresh second is read again, and only the edit comes back."""
    ids = clocked.seed([{"first_name": n} for n in ("A", "B", "C")])
    first = clocked_adapter.changes_since(None)
    assert [c.pos_id for c in first.customers] == ids
    clocked.edit(ids[0], {"lastName": "Edited"})  # same second: same timeStamp, lowest id
    second = clocked_adapter.changes_since(first.next_cursor)
    assert [(c.pos_id, c.customer.last_name) for c in second.customers] == [(ids[0], "Edited")]
    clock.now += 5  # the second settles: nothing more to hand out, and the remembered records are let go
    third = clocked_adapter.changes_since(second.next_cursor)
    assert third.customers == [] and "fresh" not in json.loads(third.next_cursor or "")


def test_more_fresh_records_than_the_cursor_holds_wait_for_the_next_poll(
    clocked: FakeServer, clocked_adapter: LightspeedRAdapter, clock: Clock
) -> None:
    """An import running in the vendor right now: the cursor remembers a few fresh records, no more."""
    ids = clocked.seed([{"first_name": f"N{i}"} for i in range(FRESH_MAX + 25)])
    first, cursor = drain(clocked_adapter, None)
    assert 0 < len(ids_of(first)) < len(ids) and len(cursor or "") < CURSOR_BOUND
    clock.now += 5
    second, _ = drain(clocked_adapter, cursor)
    assert sorted(ids_of(first) + ids_of(second), key=int) == ids  # each exactly once


def test_archived_customers_are_changes(fake: FakeServer, adapter: LightspeedRAdapter) -> None:
    ids = fake.seed([{"first_name": "Stay", "time_stamp": T0}, {"first_name": "Go", "time_stamp": T0}])
    cursor = adapter.changes_since(None).next_cursor
    fake.advance_clock(5)
    fake.archive(ids[1])
    page = adapter.changes_since(cursor)
    assert [(p.pos_id, p.status) for p in page.customers] == [(ids[1], PosStatus.ARCHIVED)]


def test_archived_before_the_first_poll_are_included(fake: FakeServer, adapter: LightspeedRAdapter) -> None:
    ids = fake.seed([{"first_name": "Gone", "archived": "true", "time_stamp": T0}])
    page = adapter.changes_since(None)
    assert [(p.pos_id, p.status) for p in page.customers] == [(ids[0], PosStatus.ARCHIVED)]


def test_paging_follows_next_urls(fake: FakeServer, adapter: LightspeedRAdapter) -> None:
    stamps = [f"2024-05-01T10:{i // 60:02d}:{i % 60:02d}+00:00" for i in range(250)]
    ids = fake.seed([{"first_name": f"N{i}", "time_stamp": s} for i, s in enumerate(stamps)])
    pages, cursor = drain(adapter, None)
    assert [len(p.customers) for p in pages] == [100, 100, 50]
    assert [p.has_more for p in pages] == [True, True, False]
    seen = [c.pos_id for p in pages for c in p.customers]
    assert sorted(seen, key=int) == ids and len(set(seen)) == 250
    log = fake.vendor_requests()
    assert len(log) == 3 and "after=" not in log[0].query
    assert all("after=" in r.query for r in log[1:])  # the vendor's next URL, not one we built
    assert json.loads(pages[0].next_cursor or "")["next"].startswith(fake.url)  # mid-walk: the vendor's link
    assert "next" not in json.loads(cursor or "")
    assert json.loads(cursor or "")["ts"] == stamps[-1]
    fake.reset()
    assert adapter.changes_since(cursor).customers == [] and fake.count_requests() == 1


def test_a_crash_between_pages_resumes_from_the_stored_cursor(fake: FakeServer, adapter: LightspeedRAdapter) -> None:
    fake.seed([{"first_name": f"N{i}", "time_stamp": T0} for i in range(150)])  # one second, two pages
    first = adapter.changes_since(None)
    assert first.has_more and json.loads(first.next_cursor or "")["next"].startswith(fake.url)
    # A new adapter (another worker) continues from the stored cursor.
    second = adapter.changes_since(first.next_cursor)
    assert len(first.customers) + len(second.customers) == 150 and not second.has_more
    assert {c.pos_id for c in first.customers}.isdisjoint(c.pos_id for c in second.customers)
    assert adapter.changes_since(second.next_cursor).customers == []


def test_a_stale_page_link_goes_on_from_the_stored_position(fake: FakeServer, adapter: LightspeedRAdapter) -> None:
    stamps = [f"2024-05-01T10:00:{i // 3:02d}+00:00" for i in range(150)]  # three customers a second
    ids = fake.seed([{"first_name": f"N{i}", "time_stamp": s} for i, s in enumerate(stamps)])
    first = adapter.changes_since(None)
    stored = json.loads(first.next_cursor or "")
    assert stored["id"] == "100" and stored["ts"] == stamps[99]  # page 1 ended part-way through a second
    stored["next"] = stored["next"].split("after=")[0] + "after=expired"
    fake.reset()
    rest, _ = drain(adapter, json.dumps(stored))
    log = fake.vendor_requests()
    assert [r.status for r in log] == [400, 200, 200]
    assert "customerID=%3E%2C100" in log[1].query and "sort=customerID" in log[1].query  # the rest of the second
    assert "timeStamp=%3E%2C" in log[2].query and "after=" not in log[2].query  # then the seconds after it
    assert sorted(ids_of([first, *rest]), key=int) == ids  # none missed, none twice


def test_duplicates_within_a_page_are_dropped(fake: FakeServer, adapter: LightspeedRAdapter) -> None:
    (pos_id,) = fake.seed([{"first_name": "Twice", "time_stamp": T0}])
    record = fake.store.render(fake.store.get(int(pos_id)) or {}, ("Contact", "Tags"))
    fake.inject(200, body={"@attributes": {"next": "", "previous": ""}, "Customer": [record, record]})
    assert [p.pos_id for p in adapter.changes_since(None).customers] == [pos_id]


def test_a_bare_timestamp_cursor_is_accepted(fake: FakeServer, adapter: LightspeedRAdapter) -> None:
    fake.seed([{"first_name": "Old", "time_stamp": "2024-01-01T00:00:00+00:00"},
               {"first_name": "New", "time_stamp": "2024-06-01T00:00:00+00:00"}])
    pages, _ = drain(adapter, "2024-03-01T00:00:00+00:00")
    assert [c.customer.first_name for p in pages for c in p.customers] == ["New"]


@pytest.mark.parametrize("cursor", ["yesterday", "{not json", '{"v": 2, "ts": 5}', '{"ts": null, "ids": [1]}',
                                    '{"v": 3, "ts": null}', '{"v": 2, "ts": null, "fresh": [1]}'],
                         ids=["junk", "broken-json", "ts-not-text", "ids-not-text", "future-version", "bad-fresh"])
def test_a_cursor_it_did_not_write_is_fatal(adapter: LightspeedRAdapter, cursor: str) -> None:
    with pytest.raises(FatalError, match="cursor"):
        adapter.changes_since(cursor)


def test_thousands_sharing_one_second_page_through_with_a_bounded_cursor(
    clocked: FakeServer, clocked_adapter: LightspeedRAdapter, clock: Clock
) -> None:
    """The merchant's bulk import: 5,000 customers, one timeStamp. Every page, every poll: each customer
    once, a cursor under 4 KB; customers edited between two pages come back once more, edited."""
    ids = clocked.seed([{"first_name": f"N{i}", "time_stamp": T0} for i in range(5000)])
    already_read, not_yet_read = ids[10], ids[4000]

    def edit_after_page_one(n: int) -> None:
        if n == 1:
            clocked.edit(already_read, {"lastName": "Edited"})
            clocked.edit(not_yet_read, {"lastName": "Edited"})

    first, cursor = drain(clocked_adapter, None, edit_after_page_one)
    assert len(first) == 51  # 5,000, plus the edited customer already read, in pages of 100
    counts = Counter(ids_of(first))
    assert set(counts) == set(ids) and counts[already_read] == 2 and sum(counts.values()) == 5001
    edited = [c for p in first for c in p.customers if c.customer.last_name == "Edited"]
    assert sorted(c.pos_id for c in edited) == sorted([already_read, not_yet_read])

    clocked.reset()
    again, cursor = drain(clocked_adapter, cursor)  # the edits' second is still fresh: read, not repeated
    assert ids_of(again) == [] and clocked.count_requests() == 1
    clock.now += 5
    clocked.edit(ids[0], {"lastName": "Later"})
    later, cursor = drain(clocked_adapter, cursor)
    assert ids_of(later) == [ids[0]]
    assert json.loads(cursor or "")["ts"] != T0


def test_an_old_cursor_listing_every_id_of_a_second_goes_on_from_its_largest(
    fake: FakeServer, adapter: LightspeedRAdapter
) -> None:
    """Cursors stored before the keyset (1,350 ids: the one that overflowed the column) still work."""
    ids = fake.seed([{"first_name": f"N{i}", "time_stamp": T0} for i in range(1400)])
    old = json.dumps({"ts": T0, "ids": [f"{i}:0123456789ab" for i in ids[:1350]]})
    pages, cursor = drain(adapter, old)
    assert ids_of(pages) == ids[1350:]
    assert len(cursor or "") < CURSOR_BOUND and drain(adapter, cursor)[0][0].customers == []


def test_an_old_cursor_in_the_middle_of_a_walk_follows_its_page_link(
    fake: FakeServer, adapter: LightspeedRAdapter
) -> None:
    ids = fake.seed([{"first_name": f"N{i}", "time_stamp": T0} for i in range(250)])
    link = json.loads(adapter.changes_since(None).next_cursor or "")["next"]  # the vendor's link after page 1
    old = json.dumps({"ts": T0, "ids": [f"{i}:0123456789ab" for i in ids[:100]], "next": link})
    fake.reset()
    pages, _ = drain(adapter, old)
    assert ids_of(pages) == ids[100:]
    assert fake.vendor_requests()[0].query == link.split("?", 1)[1]  # followed exactly as given
