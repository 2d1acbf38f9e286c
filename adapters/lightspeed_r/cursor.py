"""The opaque `changes_since` cursor: the largest `timeStamp` seen, the ids seen at it, and a page link.

Polling uses `timeStamp >= last` (pos-apis.md §1.5) because several records share one second; the ids
already returned at that second are kept so the next poll does not hand them out again. While a walk
through the vendor's pages is under way the cursor also holds the `next` URL, so each `ChangePage`
is one vendor page and a crash resumes where the last stored page ended.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime


@dataclass
class PollCursor:
    stamp: str | None = None  # the vendor's own timeStamp text, sent back as it came
    ids: set[str] = field(default_factory=set)  # customers already returned at `stamp`
    next_url: str | None = None  # the vendor's next page of an unfinished walk

    @classmethod
    def decode(cls, value: str | None) -> PollCursor:
        """Parse a stored cursor; a bare ISO timestamp is accepted too (operators may set one)."""
        if not value:
            return cls()
        if not value.lstrip().startswith("{"):
            datetime.fromisoformat(value)  # raises ValueError for junk
            return cls(stamp=value)
        data = json.loads(value)
        if not isinstance(data, dict):
            raise ValueError("cursor is not an object")
        stamp, ids, next_url = data.get("ts"), data.get("ids", []), data.get("next")
        if stamp is not None:
            datetime.fromisoformat(stamp)
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            raise ValueError("cursor ids are not strings")
        if next_url is not None and not isinstance(next_url, str):
            raise ValueError("cursor next is not a URL")
        return cls(stamp=stamp, ids=set(ids), next_url=next_url)

    def encode(self) -> str | None:
        if self.stamp is None and self.next_url is None:
            return None
        data: dict[str, object] = {"ts": self.stamp, "ids": sorted(self.ids, key=lambda i: (len(i), i))}
        if self.next_url:
            data["next"] = self.next_url
        return json.dumps(data, separators=(",", ":"))

    @property
    def when(self) -> datetime | None:
        if not self.stamp:
            return None
        parsed = datetime.fromisoformat(self.stamp)
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)

    def already_seen(self, pos_id: str, when: datetime) -> bool:
        current = self.when
        return current is not None and when == current and pos_id in self.ids

    def advance(self, pos_id: str, stamp: str, when: datetime) -> None:
        """Remember a returned record: a newer second replaces the id set, the same second adds to it."""
        current = self.when
        if current is None or when > current:
            self.stamp, self.ids = stamp, {pos_id}
        elif when == current:
            self.ids.add(pos_id)
