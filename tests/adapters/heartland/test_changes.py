"""Change polling: `updated_at >= cursor` in `_filter`, page paging, overlap and de-duplication by id."""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime, timedelta
from urllib.parse import parse_qs

import pytest

from adapters.errors import BadResponseError, FatalError
from adapters.heartland import FakeServer, HeartlandAdapter
from adapters.heartland.cursor import POLL_OVERLAP, PollState
from models.tables import PosStatus


def drain(adapter: HeartlandAdapter, cursor: str | None, limit: int = 50) -> tuple[list[str], str | None, int]:
    """Follow `has_more` to the end of one poll; returns delivered ids, the cursor and the calls made."""
    ids: list[str] = []
    for calls in range(1, limit + 1):
        page = adapter.changes_since(cursor)
        ids += [c.pos_id for c in page.customers]
        cursor = page.next_cursor
        if not page.has_more:
            return ids, cursor, calls
    raise AssertionError("the poll never finished")


def filters_sent(fake: FakeServer) -> list[dict | None]:
    out = []
    for r in fake.vendor_requests():
        raw = parse_qs(r.query).get("_filter")
        out.append(json.loads(raw[0]) if raw else None)
    return out


def test_idle_poll_is_one_request(adapter: HeartlandAdapter, fake: FakeServer) -> None:
    page = adapter.changes_since(None)
    assert page.customers == [] and not page.has_more
    assert fake.count_requests() == 1


def test_first_poll_sees_everything_including_archived_and_deleted(
    adapter: HeartlandAdapter, fake: FakeServer
) -> None:
    ids = fake.seed([{"email": f"c{i}@example.com"} for i in range(3)])
    fake.archive(ids[1])
    fake.delete(ids[2])
    page = adapter.changes_since(None)
    statuses = {c.pos_id: c.status for c in page.customers}
    assert statuses == {str(ids[0]): PosStatus.ACTIVE, str(ids[1]): PosStatus.ARCHIVED,
                        str(ids[2]): PosStatus.DELETED}
    q = parse_qs(fake.vendor_requests()[0].query)
    assert q["sort[]"] == ["updated_at", "id"] and "_filter" not in q


def test_poll_with_no_changes_is_one_request_and_repeats_nothing(
    adapter: HeartlandAdapter, fake: FakeServer
) -> None:
    fake.seed([{"email": f"c{i}@example.com"} for i in range(3)])
    first = adapter.changes_since(None)
    fake.reset()
    again = adapter.changes_since(first.next_cursor)
    assert again.customers == [] and not again.has_more
    assert fake.count_requests() == 1
    [flt] = filters_sent(fake)
    assert flt is not None and set(flt) == {"updated_at"} and set(flt["updated_at"]) == {"$gte"}
    since = PollState.decode(first.next_cursor).since
    assert since is not None
    bound = datetime.fromisoformat(flt["updated_at"]["$gte"])
    assert bound == datetime.fromisoformat(since) - POLL_OVERLAP  # the overlap window


def test_an_edit_comes_back_once(adapter: HeartlandAdapter, fake: FakeServer) -> None:
    ids = fake.seed([{"email": f"c{i}@example.com"} for i in range(3)])
    cursor = adapter.changes_since(None).next_cursor
    fake.edit(ids[1], first_name="Changed")
    page = adapter.changes_since(cursor)
    assert [(c.pos_id, c.customer.first_name) for c in page.customers] == [(str(ids[1]), "Changed")]
    assert adapter.changes_since(page.next_cursor).customers == []


def test_paging_across_several_pages_delivers_each_record_once(adapter: HeartlandAdapter, fake: FakeServer) -> None:
    adapter.per_page = 3
    ids = fake.seed([{"email": f"c{i}@example.com"} for i in range(8)])
    delivered, cursor, calls = drain(adapter, None)
    assert sorted(delivered, key=int) == [str(i) for i in ids] and len(delivered) == 8
    assert calls == fake.count_requests() >= 3
    assert all(parse_qs(r.query)["per_page"] == ["3"] for r in fake.vendor_requests())
    later = filters_sent(fake)[1:]
    assert all(f is not None and "$gte" in f["updated_at"] for f in later)  # keyset, not page numbers
    # All 8 fall inside the overlap window, so the next poll re-reads them (3 pages) and repeats none.
    assert drain(adapter, cursor)[0] == []


def test_a_record_edited_mid_poll_is_not_lost(adapter: HeartlandAdapter, fake: FakeServer) -> None:
    """Page-number walking would skip one record here: the edit shifts every later record left."""
    adapter.per_page = 2
    ids = fake.seed([{"email": f"c{i}@example.com"} for i in range(6)])
    first = adapter.changes_since(None)
    fake.edit(ids[0], first_name="Edited")
    rest, _, _ = drain(adapter, first.next_cursor)
    delivered = [c.pos_id for c in first.customers] + rest
    counts = Counter(delivered)
    assert set(counts) == {str(i) for i in ids}
    assert counts[str(ids[0])] == 2  # once as seeded, once as edited
    assert all(n == 1 for pos_id, n in counts.items() if pos_id != str(ids[0]))


def test_many_records_with_one_timestamp_still_page_through(adapter: HeartlandAdapter, fake: FakeServer) -> None:
    adapter.per_page = 2
    stamp = "2024-03-01T09:00:00.000-05:00"
    ids = fake.seed([{"email": f"c{i}@example.com", "updated_at": stamp} for i in range(5)])
    delivered, cursor, _ = drain(adapter, None)
    assert sorted(delivered, key=int) == [str(i) for i in ids]
    assert PollState.decode(cursor).since == stamp
    fake.reset()
    assert drain(adapter, cursor)[0] == []


def test_timestamps_compare_as_instants_across_offsets(adapter: HeartlandAdapter, fake: FakeServer) -> None:
    early, late = fake.seed([
        {"email": "a@example.com", "updated_at": "2024-03-01T14:00:00+00:00"},
        {"email": "b@example.com", "updated_at": "2024-03-01T10:00:00-05:00"},  # 15:00 UTC: the later one
    ])
    page = adapter.changes_since(None)
    assert [c.pos_id for c in page.customers] == [str(early), str(late)]
    assert PollState.decode(page.next_cursor).since == "2024-03-01T10:00:00-05:00"


def test_overlap_catches_a_record_committed_late_with_an_older_stamp(
    adapter: HeartlandAdapter, fake: FakeServer
) -> None:
    fake.seed([{"email": "a@example.com", "updated_at": "2024-03-01T10:00:00-05:00"}])
    cursor = adapter.changes_since(None).next_cursor
    late = fake.seed([{"email": "late@example.com", "updated_at": "2024-03-01T09:59:58-05:00"}])[0]
    assert [c.pos_id for c in adapter.changes_since(cursor).customers] == [str(late)]


def test_a_plain_timestamp_is_accepted_as_cursor(adapter: HeartlandAdapter, fake: FakeServer) -> None:
    fake.seed([{"email": "old@example.com", "updated_at": "2024-01-01T00:00:00+00:00"}])
    new = fake.seed([{"email": "new@example.com"}])[0]
    cutoff = (datetime.now().astimezone() - timedelta(days=1)).isoformat()
    assert [c.pos_id for c in adapter.changes_since(cutoff).customers] == [str(new)]


@pytest.mark.parametrize("cursor", ["yesterday", '{"v": 99}', '{"v": 1, "since": "soon"}', "{not json"],
                         ids=["words", "future-version", "bad-since", "broken-json"])
def test_a_damaged_cursor_is_a_fatal_error(adapter: HeartlandAdapter, fake: FakeServer, cursor: str) -> None:
    with pytest.raises(FatalError, match="cursor"):
        adapter.changes_since(cursor)
    assert fake.count_requests() == 0


def test_a_record_without_updated_at_is_a_bad_response(adapter: HeartlandAdapter, fake: FakeServer) -> None:
    fake.seed([{"email": "a@example.com", "updated_at": None}])
    with pytest.raises(BadResponseError, match="updated_at") as info:
        adapter.changes_since(None)
    assert info.value.endpoint == "GET /api/customers"


def test_cursor_state_forgets_records_outside_the_overlap() -> None:
    state = PollState()
    state.accept("1", "2024-03-01T10:00:00+00:00", "a")
    state.accept("2", "2024-03-01T10:10:00+00:00", "b")
    state.advance(None, 1, "2024-03-01T10:10:00+00:00", has_more=False)
    assert set(state.seen) == {"2"}
    assert state.accept("2", "2024-03-01T10:10:00+00:00", "b") is False
    assert state.accept("2", "2024-03-01T10:10:00+00:00", "changed") is True  # same second, new content
