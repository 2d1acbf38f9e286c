"""The opaque R-Series `changes_since` cursor: a (timeStamp, customerID) position, the vendor's page link,
and at most a few records still fresh. Bounded whatever the data (SPEC rule 35; `possync.adapters.change_cursor`).

Requests (pos-apis.md §1.5), one vendor page per `ChangePage`:
- a walk in progress follows the vendor's `next` URL exactly as given (never a rebuilt `after`);
- otherwise, with a position part-way through a second (`id` set: a walk whose page link the vendor
  refused, or an older cursor), the rest of that second: `timeStamp=T`, `customerID=>,id`,
  `sort=customerID`, re-asked with the last id until the vendor has no next page;
- otherwise a new walk: `timeStamp=>,T`, `sort=timeStamp` (the vendor orders one second's records by id).

`timeStamp` has one-second resolution, so a second is passed only once it is settled: two seconds older
than the vendor's clock (`Date` header) when read. Records of fresher seconds are handed out and
remembered by content digest (at most `FRESH_MAX`; a walk stops when that is full), and the next poll
reads them again and skips those unchanged. That closes the edge a plain keyset leaves open: a record edited in the very
second the last walk read it keeps its `timeStamp` and would sort behind the position for good.

Older cursors still decode: `{"ts", "ids": [...], "next"?}` (however many ids) becomes the position
(ts, largest id) and goes on from there; a bare ISO timestamp means "that second and everything after".
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from possync.adapters.change_cursor import KeysetCursor, id_order, parse_stamp

SETTLE = timedelta(seconds=2)  # one-second stamps, plus a second for the request in flight
CURSOR_VERSION = 2


@dataclass
class PollCursor:
    keyset: KeysetCursor = field(default_factory=KeysetCursor)
    next_url: str | None = None  # the vendor's next page of the walk in progress

    @classmethod
    def decode(cls, value: str | None) -> PollCursor:
        """Parse a stored cursor (this version, the previous one, or a bare ISO timestamp)."""
        if not value:
            return cls()
        if not value.lstrip().startswith("{"):
            parse_stamp(value)  # raises ValueError for junk
            return cls(KeysetCursor(stamp=value.strip(), last_id="0"))
        data = json.loads(value)
        if not isinstance(data, dict):
            raise ValueError("cursor is not an object")
        next_url = data.get("next")
        if next_url is not None and not isinstance(next_url, str):
            raise ValueError("cursor next is not a URL")
        if "ids" in data and "v" not in data:
            return cls(_from_id_list(data), next_url)
        if data.get("v") != CURSOR_VERSION:
            raise ValueError(f"unknown cursor version {data.get('v')!r}")
        return cls(KeysetCursor.from_json(data), next_url)

    def encode(self) -> str | None:
        if self.keyset.stamp is None and self.next_url is None and not self.keyset.fresh:
            return None
        data: dict[str, Any] = {"v": CURSOR_VERSION, **self.keyset.to_json()}
        if self.next_url:
            data["next"] = self.next_url
        return json.dumps(data, separators=(",", ":"))


def _from_id_list(data: dict[str, Any]) -> KeysetCursor:
    """The previous format listed every id returned at `ts` ("id" or "id:digest"): keep the largest."""
    stamp, ids = data.get("ts"), data.get("ids")
    if stamp is not None:
        parse_stamp(stamp)
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise ValueError("cursor ids are not strings")
    numbers = [i.split(":", 1)[0] for i in ids]
    if not all(n.isdigit() for n in numbers):
        raise ValueError("cursor ids are not customer ids")
    last = max(numbers, key=id_order) if numbers else "0"
    return KeysetCursor(stamp=stamp, last_id=last if stamp is not None else None)
