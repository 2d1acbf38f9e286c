"""`changes_since` on the version feed: thousands of customers changed at one `updated_at` page through
with a cursor that is one integer (SPEC rule 35)."""

from __future__ import annotations

from collections import Counter

from possync.adapters.lightspeed_x import LightspeedXAdapter
from possync.adapters.lightspeed_x.fake import FakeServer

STAMP = "2024-05-01T10:00:00+00:00"
CURSOR_BOUND = 4096


def test_five_thousand_sharing_one_timestamp_page_through_with_a_bounded_cursor(
    fake: FakeServer, adapter: LightspeedXAdapter
) -> None:
    ids = fake.seed([{"first_name": f"N{i}", "last_name": "Bulk", "updated_at": STAMP} for i in range(5000)])
    already_read, not_yet_read = ids[10], ids[4000]
    delivered: list[str] = []
    cursor, calls = None, 0
    while True:  # one poll
        page = adapter.changes_since(cursor)
        calls += 1
        delivered += [c.pos_id for c in page.customers]
        cursor = page.next_cursor
        assert cursor is not None and cursor.isdigit() and len(cursor) < CURSOR_BOUND
        if calls == 1:  # staff edit two customers while the poll walks the pages
            fake.edit(already_read, last_name="Edited")
            fake.edit(not_yet_read, last_name="Edited")
        if not page.has_more:
            break
    counts = Counter(delivered)
    assert set(counts) == set(ids) and sum(counts.values()) == 5001 and counts[already_read] == 2
    assert calls <= 27  # pages of 200
    fake.reset()
    after = adapter.changes_since(cursor)
    assert after.customers == [] and not after.has_more and after.next_cursor == cursor
    assert fake.count_requests() == 1
    fake.edit(ids[0], last_name="Later")
    assert [c.pos_id for c in adapter.changes_since(cursor).customers] == [ids[0]]
