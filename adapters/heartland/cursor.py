"""The Heartland change-poll cursor: a bounded (updated_at, id) keyset (SPEC rule 35; `possync.adapters.change_cursor`).

Heartland pages by number (`page`/`per_page`), so a record edited while a poll walks the pages moves to
the end and shifts every later record one place left: walking page numbers can skip one for good
(gotcha 21). Every request is therefore page 1 of a filter that starts at the cursor's position, sorted
by `updated_at` then `id`:
- `updated_at $gte T`: from the position (T, id) on; the few records at T up to that id come back and
  are skipped;
- `updated_at $gte T` and `id $gt id`: the rest of stamp T, when a whole page shared that one stamp (a
  bulk import), so that thousands of records at one stamp walk by id and never by page number;
- `updated_at $gt T`: after a stamp read to its end.

Whether Heartland honours the second sort key is unverified [U]: the adapter checks every page's order
and stops with an error rather than skip records silently if it does not. A stamp is passed only once
it is settled, `SETTLE` older than the vendor's clock (`Date` header): a record committed a moment late
with a slightly older stamp is still in front of the position. Fresher records are handed out and
remembered by digest (at most `FRESH_MAX`), and read again, not handed out again, by the next poll.

The cursor is opaque to callers: compact JSON, or a bare ISO timestamp ("everything since then"). The
previous format (`"v": 1`, a `seen` map of every record near the last stamp) is read and carried on.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from possync.adapters.change_cursor import KeysetCursor, id_order, parse_stamp

# [U] How long Heartland may take to commit a write after stamping it. Unknown; the old overlap window.
SETTLE = timedelta(seconds=5)
CURSOR_VERSION = 2


class CursorError(ValueError):
    """The stored cursor is not one this adapter wrote."""


@dataclass
class PollState:
    keyset: KeysetCursor = field(default_factory=KeysetCursor)
    by_id: bool = False  # walking the rest of the position's stamp by id

    # --- (de)serialising ---------------------------------------------------------------------------
    @classmethod
    def decode(cls, cursor: str | None) -> PollState:
        if cursor is None or not cursor.strip():
            return cls()
        text = cursor.strip()
        try:
            if not text.startswith("{"):
                parse_stamp(text)
                return cls(KeysetCursor(stamp=text, last_id="0"))  # "0": the whole of that stamp is still to read
            data = json.loads(text)
            if not isinstance(data, dict):
                raise CursorError("the Heartland cursor is not a JSON object")
            if data.get("v") == 1:
                return cls(_from_seen_map(data))
            if data.get("v") != CURSOR_VERSION:
                raise CursorError(f"unknown Heartland cursor version {data.get('v')!r}")
            return cls(KeysetCursor.from_json(data), by_id=bool(data.get("by_id")))
        except CursorError:
            raise
        except (ValueError, TypeError, AttributeError, IndexError) as exc:
            if not text.startswith("{"):
                raise CursorError("the Heartland cursor is neither this adapter's JSON nor a timestamp") from None
            raise CursorError(f"the Heartland cursor is damaged ({type(exc).__name__})") from None

    def encode(self) -> str:
        data: dict[str, Any] = {"v": CURSOR_VERSION, **self.keyset.to_json()}
        if self.by_id:
            data["by_id"] = True
        return json.dumps(data, separators=(",", ":"), sort_keys=True)

    # --- one request ---------------------------------------------------------------------------------
    def filter(self) -> dict[str, Any] | None:
        """The `_filter` of the next request (None: everything); always asked as page 1."""
        stamp, last_id = self.keyset.stamp, self.keyset.last_id
        if stamp is None:
            return None
        if last_id is None:
            return {"updated_at": {"$gt": stamp}}
        if self.by_id:
            return {"updated_at": {"$gte": stamp}, "id": {"$gt": int(last_id)}}
        return {"updated_at": {"$gte": stamp}}


def _from_seen_map(data: dict[str, Any]) -> KeysetCursor:
    """Version 1 kept `since` (the largest stamp delivered) and every record delivered near it: the
    position is `since` and the largest id delivered at exactly that stamp."""
    since, seen = data.get("since"), data.get("seen") or {}
    if since is None:
        return KeysetCursor()
    at = parse_stamp(since)
    ids = [str(k) for k, v in seen.items() if parse_stamp(str(v[0])) == at]
    if not all(i.isdigit() for i in ids):
        raise ValueError("ids are not Heartland ids")
    return KeysetCursor(stamp=since, last_id=max(ids, key=id_order) if ids else "0")
