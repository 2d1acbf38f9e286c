"""`changes_since`: timeStamp polling with `>=`, de-duplication, next-URL paging, archived customers."""

from __future__ import annotations

import json

import pytest

from adapters.base import ChangePage
from adapters.errors import FatalError
from adapters.lightspeed_r import FakeServer, LightspeedRAdapter
from models.tables import PosStatus

T0 = "2024-05-01T10:00:00+00:00"


def drain(adapter: LightspeedRAdapter, cursor: str | None) -> tuple[list[ChangePage], str | None]:
    pages = []
    while True:
        page = adapter.changes_since(cursor)
        pages.append(page)
        cursor = page.next_cursor
        if not page.has_more:
            return pages, cursor


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
    assert "timeStamp=%3E%3D%2C2024-05-01T10%3A00%3A00%2B00%3A00" in query  # >=, with + encoded
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


def test_same_second_newcomer_is_not_missed(fake: FakeServer, adapter: LightspeedRAdapter) -> None:
    """`>=` plus remembered ids: a record written in the cursor's own second after the poll is seen."""
    fake.seed([{"first_name": "A", "time_stamp": T0}])
    cursor = adapter.changes_since(None).next_cursor
    (late,) = fake.seed([{"first_name": "Late", "time_stamp": T0}])
    page = adapter.changes_since(cursor)
    assert [p.pos_id for p in page.customers] == [late]
    assert [key.split(":")[0] for key in json.loads(page.next_cursor or "")["ids"]] == ["1", late]


def test_same_second_edit_is_not_missed(fake: FakeServer, adapter: LightspeedRAdapter) -> None:
    """Same id, same second, different content (an archive right after the poll): still a change."""
    (pos_id,) = fake.seed([{"first_name": "A", "time_stamp": T0}])
    cursor = adapter.changes_since(None).next_cursor
    fake.edit(pos_id, {"lastName": "Edited"})
    page = adapter.changes_since(cursor)
    assert [(p.pos_id, p.customer.last_name) for p in page.customers] == [(pos_id, "Edited")]


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


def test_a_stale_page_link_restarts_from_the_stored_timestamp(fake: FakeServer, adapter: LightspeedRAdapter) -> None:
    stamps = [f"2024-05-01T10:00:{i % 60:02d}+00:00" for i in range(150)]
    fake.seed([{"first_name": f"N{i}", "time_stamp": s} for i, s in enumerate(stamps)])
    first = adapter.changes_since(None)
    stored = json.loads(first.next_cursor or "")
    stored["next"] = stored["next"].split("after=")[0] + "after=expired"
    fake.reset()
    second = adapter.changes_since(json.dumps(stored))
    assert [r.status for r in fake.vendor_requests()] == [400, 200]
    assert len(first.customers) + len(second.customers) == 150
    assert {c.pos_id for c in first.customers}.isdisjoint(c.pos_id for c in second.customers)


def test_duplicates_within_a_page_are_dropped(fake: FakeServer, adapter: LightspeedRAdapter) -> None:
    (pos_id,) = fake.seed([{"first_name": "Twice", "time_stamp": T0}])
    record = fake.store.render(fake.store.get(int(pos_id)) or {}, ("Contact", "Tags"))
    fake.inject(200, body={"@attributes": {"next": "", "previous": ""}, "Customer": [record, record]})
    assert [p.pos_id for p in adapter.changes_since(None).customers] == [pos_id]


def test_a_bare_timestamp_cursor_is_accepted(fake: FakeServer, adapter: LightspeedRAdapter) -> None:
    fake.seed([{"first_name": "Old", "time_stamp": "2024-01-01T00:00:00+00:00"},
               {"first_name": "New", "time_stamp": "2024-06-01T00:00:00+00:00"}])
    page = adapter.changes_since("2024-03-01T00:00:00+00:00")
    assert [p.customer.first_name for p in page.customers] == ["New"]


@pytest.mark.parametrize("cursor", ["yesterday", "{not json", '{"ts": 5}', '{"ts": null, "ids": [1]}'],
                         ids=["junk", "broken-json", "ts-not-text", "ids-not-text"])
def test_a_cursor_it_did_not_write_is_fatal(adapter: LightspeedRAdapter, cursor: str) -> None:
    with pytest.raises(FatalError, match="cursor"):
        adapter.changes_since(cursor)
