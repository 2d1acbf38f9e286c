"""Change polling: an (updated_at, id) keyset in `_filter`, always page 1, fresh records read again but
handed out once, and a cursor that stays small whatever the data (SPEC rule 35)."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta
from urllib.parse import parse_qs

import pytest
import requests

from possync.adapters.change_cursor import FRESH_MAX
from possync.adapters.errors import BadResponseError, FatalError
from possync.adapters.heartland import HeartlandAdapter
from possync.adapters.heartland.cursor import SETTLE, PollState
from possync.adapters.heartland.fake import FakeServer
from possync.models.tables import PosStatus
from tests.adapters.heartland.conftest import Clock
from tests.adapters.heartland.helpers import TOKEN

PAST = "2024-03-01T09:00:00.000-05:00"  # long settled
CURSOR_BOUND = 4096  # characters a stored cursor may take, whatever the data


def past(i: int) -> str:
    """Distinct settled stamps, one a second."""
    return (datetime.fromisoformat(PAST) + timedelta(seconds=i)).isoformat(timespec="milliseconds")


def drain(adapter: HeartlandAdapter, cursor: str | None, limit: int = 100,
          between: Callable[[int], None] | None = None) -> tuple[list[str], str | None, int]:
    """One poll: follow `has_more` to its end; returns delivered ids, the cursor and the calls made.
    Every cursor on the way is bounded; `between(n)` runs after call n."""
    ids: list[str] = []
    for calls in range(1, limit + 1):
        before = cursor
        page = adapter.changes_since(cursor)
        ids += [c.pos_id for c in page.customers]
        cursor = page.next_cursor
        assert cursor is None or len(cursor) < CURSOR_BOUND, len(cursor)
        if between is not None:
            between(calls)
        if not page.has_more or (not page.customers and cursor == before):  # as `possync.tasks.poll` stops
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
    fake.seed([{"email": f"c{i}@example.com", "updated_at": past(i)} for i in range(3)])
    first = adapter.changes_since(None)
    fake.reset()
    again = adapter.changes_since(first.next_cursor)
    assert again.customers == [] and not again.has_more
    assert fake.count_requests() == 1
    assert filters_sent(fake) == [{"updated_at": {"$gt": past(2)}}]  # after the last settled stamp
    assert parse_qs(fake.vendor_requests()[0].query)["page"] == ["1"]


def test_fresh_records_are_read_again_but_handed_out_once(
    adapter: HeartlandAdapter, fake: FakeServer, clock: Clock
) -> None:
    ids = fake.seed([{"email": f"c{i}@example.com"} for i in range(3)])  # stamped now: not settled yet
    first = adapter.changes_since(None)
    assert [c.pos_id for c in first.customers] == [str(i) for i in ids]
    assert adapter.changes_since(first.next_cursor).customers == []
    fake.edit(ids[0], first_name="Again")  # a later edit, a moment after the read
    second = adapter.changes_since(first.next_cursor)
    assert [(c.pos_id, c.customer.first_name) for c in second.customers] == [(str(ids[0]), "Again")]
    clock.now = (clock.now or 0) + SETTLE.total_seconds() + 1
    settled = adapter.changes_since(second.next_cursor)
    assert settled.customers == [] and "fresh" not in json.loads(settled.next_cursor or "")


def test_an_edit_comes_back_once(adapter: HeartlandAdapter, fake: FakeServer) -> None:
    ids = fake.seed([{"email": f"c{i}@example.com"} for i in range(3)])
    cursor = adapter.changes_since(None).next_cursor
    fake.edit(ids[1], first_name="Changed")
    page = adapter.changes_since(cursor)
    assert [(c.pos_id, c.customer.first_name) for c in page.customers] == [(str(ids[1]), "Changed")]
    assert adapter.changes_since(page.next_cursor).customers == []


def test_paging_across_several_pages_delivers_each_record_once(adapter: HeartlandAdapter, fake: FakeServer) -> None:
    adapter.per_page = 3
    ids = fake.seed([{"email": f"c{i}@example.com", "updated_at": past(i // 2)} for i in range(8)])
    delivered, cursor, calls = drain(adapter, None)
    assert sorted(delivered, key=int) == [str(i) for i in ids] and len(delivered) == 8
    assert calls == fake.count_requests() >= 3
    requests = [parse_qs(r.query) for r in fake.vendor_requests()]
    assert all(q["per_page"] == ["3"] and q["page"] == ["1"] for q in requests)  # keyset, not page numbers
    assert all(f is not None and "$gte" in f["updated_at"] for f in filters_sent(fake)[1:])
    fake.reset()
    assert drain(adapter, cursor)[0] == [] and fake.count_requests() == 1


def test_a_record_edited_mid_poll_is_not_lost(adapter: HeartlandAdapter, fake: FakeServer) -> None:
    """Page-number walking would skip one record here: the edit shifts every later record left."""
    adapter.per_page = 2
    ids = fake.seed([{"email": f"c{i}@example.com", "updated_at": past(i)} for i in range(6)])
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
    ids = fake.seed([{"email": f"c{i}@example.com", "updated_at": PAST} for i in range(5)])
    delivered, cursor, _ = drain(adapter, None)
    assert sorted(delivered, key=int) == [str(i) for i in ids]
    assert PollState.decode(cursor).keyset.stamp == PAST
    assert filters_sent(fake)[1:3] == [{"updated_at": {"$gte": PAST}, "id": {"$gt": 2}},
                                       {"updated_at": {"$gte": PAST}, "id": {"$gt": 4}}]  # by id, not page
    fake.reset()
    assert drain(adapter, cursor)[0] == []


def test_timestamps_compare_as_instants_across_offsets(adapter: HeartlandAdapter, fake: FakeServer) -> None:
    early, late = fake.seed([
        {"email": "a@example.com", "updated_at": "2024-03-01T14:00:00+00:00"},
        {"email": "b@example.com", "updated_at": "2024-03-01T10:00:00-05:00"},  # 15:00 UTC: the later one
    ])
    page = adapter.changes_since(None)
    assert [c.pos_id for c in page.customers] == [str(early), str(late)]
    assert PollState.decode(page.next_cursor).keyset.stamp == "2024-03-01T10:00:00-05:00"


def test_a_record_committed_late_with_an_older_stamp_is_caught(
    adapter: HeartlandAdapter, fake: FakeServer, clock: Clock
) -> None:
    """A stamp is only passed once settled: a write committed late, stamped before one already read, is
    still in front of the cursor."""
    (first,) = fake.seed([{"email": "a@example.com"}])
    cursor = adapter.changes_since(None).next_cursor
    stamp = datetime.fromtimestamp((clock.now or 0) - 2).astimezone(fake.tz).isoformat(timespec="milliseconds")
    late = fake.seed([{"email": "late@example.com", "updated_at": stamp}])[0]
    assert [c.pos_id for c in adapter.changes_since(cursor).customers] == [str(late)]
    assert str(first) != str(late)


def test_a_plain_timestamp_is_accepted_as_cursor(adapter: HeartlandAdapter, fake: FakeServer) -> None:
    fake.seed([{"email": "old@example.com", "updated_at": "2024-01-01T00:00:00+00:00"}])
    new = fake.seed([{"email": "new@example.com"}])[0]
    cutoff = (datetime.now().astimezone() - timedelta(days=1)).isoformat()
    assert [c.pos_id for c in adapter.changes_since(cutoff).customers] == [str(new)]


@pytest.mark.parametrize("cursor", ["yesterday", '{"v": 99}', '{"v": 1, "since": "soon"}', "{not json",
                                    '{"v": 2, "ts": "soon"}', '{"v": 2, "ts": null, "fresh": {"1": "x"}}'],
                         ids=["words", "future-version", "bad-since", "broken-json", "bad-ts", "bad-fresh"])
def test_a_damaged_cursor_is_a_fatal_error(adapter: HeartlandAdapter, fake: FakeServer, cursor: str) -> None:
    with pytest.raises(FatalError, match="cursor"):
        adapter.changes_since(cursor)
    assert fake.count_requests() == 0


def test_a_record_without_updated_at_is_a_bad_response(adapter: HeartlandAdapter, fake: FakeServer) -> None:
    fake.seed([{"email": "a@example.com", "updated_at": None}])
    with pytest.raises(BadResponseError, match="updated_at") as info:
        adapter.changes_since(None)
    assert info.value.endpoint == "GET /api/customers"


def test_five_thousand_sharing_one_stamp_page_through_with_a_bounded_cursor(
    adapter: HeartlandAdapter, fake: FakeServer, clock: Clock
) -> None:
    """A bulk import: 5,000 customers, one `updated_at`. Each once across all pages and polls, a cursor
    under 4 KB at every step; customers edited between two pages come back once more, edited."""
    ids = [str(i) for i in fake.seed([{"email": f"c{i}@example.com", "updated_at": PAST} for i in range(5000)])]
    already_read, not_yet_read = ids[10], ids[4000]

    def edit_after_page_one(n: int) -> None:
        if n == 1:
            fake.edit(already_read, first_name="Edited")
            fake.edit(not_yet_read, first_name="Edited")

    delivered, cursor, calls = drain(adapter, None, between=edit_after_page_one)
    counts = Counter(delivered)
    assert set(counts) == set(ids) and sum(counts.values()) == 5001 and counts[already_read] == 2
    assert calls <= 52 and all(q["page"] == ["1"] for q in map(parse_qs, (r.query for r in fake.vendor_requests())))
    fake.reset()
    assert drain(adapter, cursor)[0] == [] and fake.count_requests() == 1  # the edits: fresh, read, not repeated
    clock.now = (clock.now or 0) + SETTLE.total_seconds() + 1
    fake.edit(ids[0], first_name="Later")
    later, cursor, _ = drain(adapter, cursor)
    assert later == [ids[0]] and PollState.decode(cursor).keyset.stamp != PAST


def test_more_fresh_records_than_the_cursor_holds_wait_for_the_next_poll(
    adapter: HeartlandAdapter, fake: FakeServer, clock: Clock
) -> None:
    ids = [str(i) for i in fake.seed([{"email": f"c{i}@example.com"} for i in range(FRESH_MAX + 15)])]
    first, cursor, _ = drain(adapter, None)
    assert first == ids[:FRESH_MAX]
    clock.now = (clock.now or 0) + SETTLE.total_seconds() + 1
    second, _, _ = drain(adapter, cursor)
    assert second == ids[FRESH_MAX:]


def test_a_vendor_that_ignores_the_id_sort_is_an_error_not_a_silent_skip(
    adapter: HeartlandAdapter, fake: FakeServer
) -> None:
    fake.seed([{"email": f"c{i}@example.com", "updated_at": PAST} for i in range(2)])
    records = requests.get(f"{fake.url}/api/customers", headers={"Authorization": f"Bearer {TOKEN}"},
                           timeout=5).json()["results"]
    fake.inject(200, body={"total": 2, "pages": 1, "per_page": 100, "results": list(reversed(records))})
    with pytest.raises(BadResponseError, match=r"\(updated_at, id\) order"):
        adapter.changes_since(None)


def test_a_version_1_cursor_with_thousands_of_seen_records_goes_on_from_its_position(
    adapter: HeartlandAdapter, fake: FakeServer
) -> None:
    """The previous format kept every record near its last stamp; it converts to (since, largest id)."""
    ids = [str(i) for i in fake.seed([{"email": f"c{i}@example.com", "updated_at": PAST} for i in range(1400)])]
    old = json.dumps({"v": 1, "since": PAST, "chain": False, "window": None, "page": 1,
                      "seen": {i: [PAST, "0123456789abcdef"] for i in ids[:1350]}})
    delivered, cursor, _ = drain(adapter, old)
    assert delivered == ids[1350:] and len(cursor or "") < CURSOR_BOUND


# --- change rows as readings an update can start from (issue #14) ------------------------------------
ADDRESSED = {"first_name": "Ida", "last_name": "Wells", "email": "ida@example.com", "custom": {"tier": "gold"},
             "address": {"line_1": "1 Main St", "city": "Austin", "state": "TX", "postal_code": "78701",
                         "country": "US", "phone": "5125550100"}}


def test_a_change_row_with_its_addresses_and_custom_is_a_reading_an_update_starts_from(
        adapter: HeartlandAdapter, fake: FakeServer) -> None:
    """The row carries what an update resends (the address ids, `custom`): the phone change goes to the
    main address the row names, with no read by id first."""
    [cid] = fake.seed([ADDRESSED])
    [pos] = adapter.changes_since(None).customers
    assert pos.vendor_state is not None and pos.vendor_state["custom"] == {"tier": "gold"}
    seen = fake.count_requests()
    adapter.update_customer_as_read(pos, {"phone": "+15125550199"})
    assert fake.count_requests("GET") == seen  # the poll's one list read, nothing since
    main = fake.record(cid)["address_id"]
    assert "0199" in fake.address(cid, main)["phone"]


@pytest.mark.parametrize("left_out", ["address", "custom"])
def test_a_change_row_without_its_address_or_custom_is_no_reading_an_update_trusts(
        adapter: HeartlandAdapter, fake: FakeServer, left_out: str) -> None:
    """pos-apis.md 3.3 does not say list rows embed `address` and `custom`: a row without them is kept
    as a partial reading, and the update reads the record by id first."""
    [cid] = fake.seed([ADDRESSED])
    fake.list_leaves_out = (left_out,)
    [pos] = adapter.changes_since(None).customers
    assert pos.vendor_state is None
    adapter.update_customer_as_read(pos, {"phone": "+15125550199"})
    assert fake.count_requests("GET", f"/customers/{cid}") == 1
    assert "0199" in fake.address(cid, fake.record(cid)["address_id"])["phone"]
