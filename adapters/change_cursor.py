"""The bounded part of every timestamp change cursor: a keyset position and a few records still fresh.

A cursor that lists every id seen at its last stamp grows without limit when a bulk import gives
thousands of customers one stamp (SPEC rule 35). This one holds a position on the vendor's sort order,
(change stamp, id), and at most `FRESH_MAX` records besides, whatever the data.

- The position says: every record sorting at or before it has been handed out, and its stamp was
  *settled* when it was read, i.e. older than the vendor's clock (the response `Date` header) by a
  settling time, so no write still in flight can take that stamp any more. `last_id=None` means every
  record at that stamp.
- A record read while its stamp is still fresh is handed out but not passed: it is remembered (id ->
  stamp, content digest) and read again by the next walk, which skips it while it is unchanged. So an
  edit made in the same second as the read, to a record already handed out, is still seen, and a write
  committed a moment late with a slightly older stamp is still in front of the position.
- When more than `FRESH_MAX` fresh records are waiting, the rest wait for a later poll (by then settled).

The vendor modules build the requests (R-Series: `@attributes.next` URLs; Heartland: page 1 of a keyset
filter) and feed each page's records through `KeysetCursor.take` in the order the vendor sorted them.
"""

from __future__ import annotations

import email.utils
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

# Records handed out but not yet passed: bounds the cursor (about 30 characters each, so at most ~1.5 KB).
# Sized above what a settle window holds at the vendors' write rates (a 20/s bucket for 2 s is 40), so
# possync's own burst of creates does not hold the index back from "current" (rule 36's catch-up).
FRESH_MAX = 50  # must stay below a vendor page (100): a page of only fresh records would never move


def digest(record: Any) -> str:
    """A short fingerprint of a vendor record: tells an edit from a re-read of the same version."""
    blob = json.dumps(record, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:8]


def id_order(pos_id: str) -> tuple[int, int | str]:
    """Vendor ids sort as numbers when they are numbers (R-Series, Heartland)."""
    return (0, int(pos_id)) if pos_id.isdigit() else (1, pos_id)


def parse_stamp(value: str) -> datetime:
    """An ISO-8601 stamp as an aware instant (naive: UTC). ValueError when it is not one."""
    parsed = datetime.fromisoformat(value.strip())
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def vendor_time(date_header: str | None) -> datetime:
    """The vendor's clock from a response `Date` header; this machine's clock when there is none."""
    if date_header:
        try:
            parsed = email.utils.parsedate_to_datetime(date_header)
        except (TypeError, ValueError):
            parsed = None
        if parsed is not None:
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return datetime.now(UTC)


def _millis(when: datetime) -> int:
    return int(when.timestamp() * 1000)


@dataclass(frozen=True)
class Change:
    """One record of a change page, as the cursor needs it."""

    pos_id: str
    stamp: str  # the vendor's own text, sent back in later filters
    when: datetime
    digest: str


@dataclass
class KeysetCursor:
    stamp: str | None = None  # position: the last settled stamp passed
    last_id: str | None = None  # position: the last id passed at `stamp`; None = all of `stamp`
    fresh: dict[str, tuple[int, str]] = field(default_factory=dict)  # id -> (stamp in ms, digest)
    reached_fresh: bool = False  # set by `take`: the page reached records too fresh to pass
    full: bool = False  # set by `take`: fresh records were left for a later poll

    @property
    def when(self) -> datetime | None:
        return None if self.stamp is None else parse_stamp(self.stamp)

    # --- (de)serialising ---------------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"ts": self.stamp}
        if self.last_id is not None:
            data["id"] = self.last_id
        if self.fresh:
            data["fresh"] = {k: [ms, d] for k, (ms, d) in self.fresh.items()}
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> KeysetCursor:
        """The common fields of a stored cursor; ValueError/TypeError when they are damaged."""
        stamp, last_id, fresh = data.get("ts"), data.get("id"), data.get("fresh") or {}
        if stamp is not None and not isinstance(stamp, str):
            raise TypeError("cursor stamp is not text")
        if stamp is not None:
            parse_stamp(stamp)
        if last_id is not None and not isinstance(last_id, str):
            raise TypeError("cursor id is not text")
        if not isinstance(fresh, dict) or len(fresh) > FRESH_MAX:
            raise ValueError("cursor fresh records are damaged")
        entries = {str(k): (int(v[0]), str(v[1])) for k, v in fresh.items()}
        return cls(stamp=stamp, last_id=last_id, fresh=entries)

    # --- walking -----------------------------------------------------------------------------------
    def passed(self, when: datetime, pos_id: str) -> bool:
        """True when (when, pos_id) sorts at or before the position: handed out already."""
        position = self.when
        if position is None or when > position:
            return False
        if when < position:
            return True
        return self.last_id is None or id_order(pos_id) <= id_order(self.last_id)

    def take(self, changes: Sequence[Change], now: datetime, settle: timedelta) -> list[int]:
        """Positions in `changes` (one vendor page, in the vendor's order) to hand out; moves the cursor.

        Settled records move the position; fresh ones are remembered instead, up to `FRESH_MAX`, and the
        page is cut at the first fresh record that no longer fits (`full`).
        """
        handed: list[int] = []
        for i, change in enumerate(changes):
            if self.passed(change.when, change.pos_id):
                continue  # at or before the position: handed out already (or a repeat inside the page)
            known = self.fresh.get(change.pos_id)
            unchanged = known is not None and known[1] == change.digest
            if change.when + settle <= now:
                if not unchanged:
                    handed.append(i)
                self.fresh.pop(change.pos_id, None)
                self.stamp, self.last_id = change.stamp, change.pos_id
                continue
            self.reached_fresh = True
            if unchanged:
                continue
            if known is None and len(self.fresh) >= FRESH_MAX:
                self.full = True
                break
            self.fresh[change.pos_id] = (_millis(change.when), change.digest)
            handed.append(i)
        self._forget_passed()
        return handed

    def finish_stamp(self) -> None:
        """Every record at the position's stamp has been read: the next walk starts after the stamp."""
        self.last_id = None
        self._forget_passed()

    def _forget_passed(self) -> None:
        """Fresh entries the position has moved beyond: the record settled, or moved on with an edit."""
        position = self.when
        if position is None:
            return
        self.fresh = {k: v for k, v in self.fresh.items()
                      if not self.passed(datetime.fromtimestamp(v[0] / 1000, UTC), k)}
