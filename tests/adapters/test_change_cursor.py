"""The shared keyset cursor: the vendor's clock, the position, the bound on remembered fresh records."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from possync.adapters.change_cursor import FRESH_MAX, Change, KeysetCursor, vendor_time

NOW = datetime(2026, 5, 28, 20, 26, 40, tzinfo=UTC)
SETTLE = timedelta(seconds=2)


def change(pos_id: str, when: datetime, content: str = "a") -> Change:
    return Change(pos_id, when.isoformat(), when, content)


def test_the_vendor_clock_comes_from_date_and_this_machine_stands_in_without_one() -> None:
    assert vendor_time("Thu, 28 May 2026 20:26:40 GMT") == NOW
    for missing in (None, "", "not a date"):
        assert abs(vendor_time(missing) - datetime.now(UTC)) < timedelta(seconds=5)


def test_settled_records_move_the_position_and_fresh_ones_are_remembered_up_to_the_bound() -> None:
    cursor = KeysetCursor()
    old = NOW - timedelta(seconds=10)
    page = [change("7", old), change("9", old)] + [change(str(i), NOW) for i in range(100, 100 + FRESH_MAX + 3)]
    handed = cursor.take(page, NOW, SETTLE)
    assert handed == list(range(2 + FRESH_MAX)) and cursor.full and cursor.reached_fresh
    assert (cursor.stamp, cursor.last_id) == (old.isoformat(), "9") and len(cursor.fresh) == FRESH_MAX
    again = KeysetCursor.from_json(cursor.to_json())
    assert again.take(page, NOW, SETTLE) == []  # read again, handed out never twice (and still full)
    assert again.take([change("100", NOW, "edited")], NOW, SETTLE) == [0]  # an edit in the same second


def test_ids_order_as_numbers() -> None:
    cursor = KeysetCursor(stamp=NOW.isoformat(), last_id="10")
    assert cursor.passed(NOW, "9") and cursor.passed(NOW, "10") and not cursor.passed(NOW, "11")
    assert not cursor.passed(NOW + timedelta(seconds=1), "1") and cursor.passed(NOW - timedelta(seconds=1), "99")
