"""The change-poll cursor for Heartland: `updated_at >= x`, keyset paging, overlap and de-duplication.

Heartland pages by number (`page`/`per_page`), so a record edited while a poll walks the pages moves to
the end and shifts every later record one place left: walking page numbers can skip one for good
(gotcha 21). The cursor therefore pages by key: each request asks for page 1 of
`updated_at >= <largest updated_at delivered so far>`, sorted by `updated_at`. Records at that exact
stamp come back again and are skipped by (id, updated_at, content digest). Only when a whole page shares
one stamp (no progress possible) does it fall back to the next page number of the same window.

A new poll starts `POLL_OVERLAP` before the last stamp, to catch records committed late with an older
stamp (clock skew, long transactions); the digests of recent records make that overlap free of repeats.

The cursor is opaque to callers: compact JSON, or a bare ISO timestamp ("everything since then").
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from adapters.heartland.mapping import RecordError, timestamp

# [U] How far a new poll reaches back before the last stamp seen. Heartland's commit latency is unknown.
POLL_OVERLAP = timedelta(seconds=5)
CURSOR_VERSION = 1


class CursorError(ValueError):
    """The stored cursor is not one this adapter wrote."""


def digest(record: Any) -> str:
    blob = json.dumps(record, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _when(value: str) -> datetime:
    parsed = timestamp(value, "updated_at")
    assert parsed is not None
    return parsed


@dataclass
class PollState:
    since: str | None = None  # the largest `updated_at` delivered, as the vendor wrote it
    chain: bool = False  # True while a poll is part-way through its pages
    window: str | None = None  # the `$gte` value of the poll in progress (None: no filter)
    page: int = 1
    seen: dict[str, list[str]] = field(default_factory=dict)  # id -> [updated_at, digest], near `since`

    # --- (de)serialising ---------------------------------------------------------------------------
    @classmethod
    def decode(cls, cursor: str | None) -> PollState:
        if cursor is None or not cursor.strip():
            return cls()
        text = cursor.strip()
        if not text.startswith("{"):
            try:
                _when(text)
            except RecordError:
                raise CursorError("the Heartland cursor is neither this adapter's JSON nor a timestamp") from None
            return cls(since=text)
        try:
            data = json.loads(text)
            if data.get("v") != CURSOR_VERSION:
                raise CursorError(f"unknown Heartland cursor version {data.get('v')!r}")
            state = cls(
                since=data.get("since"),
                chain=bool(data.get("chain")),
                window=data.get("window"),
                page=int(data.get("page", 1)),
                seen={str(k): [str(v[0]), str(v[1])] for k, v in (data.get("seen") or {}).items()},
            )
            for stamp in (state.since, state.window):
                if stamp is not None:
                    _when(stamp)
        except (ValueError, TypeError, AttributeError, IndexError, RecordError) as exc:
            if isinstance(exc, CursorError):
                raise
            raise CursorError(f"the Heartland cursor is damaged ({type(exc).__name__})") from None
        return state

    def encode(self) -> str:
        data = {
            "v": CURSOR_VERSION,
            "since": self.since,
            "chain": self.chain,
            "window": self.window,
            "page": self.page,
            "seen": self.seen,
        }
        return json.dumps(data, separators=(",", ":"), sort_keys=True)

    # --- one request ---------------------------------------------------------------------------------
    def query(self) -> tuple[str | None, int]:
        """The `updated_at >=` bound (None: everything) and the page number of the next request."""
        if self.chain:
            return self.window, self.page
        if self.since is None:
            return None, 1
        return (_when(self.since) - POLL_OVERLAP).isoformat(), 1

    def accept(self, pos_id: str, updated_at: str, record_digest: str) -> bool:
        """True the first time this version of a record is seen; remembers it."""
        entry = [updated_at, record_digest]
        if self.seen.get(pos_id) == entry:
            return False
        self.seen[pos_id] = entry
        return True

    def advance(self, window: str | None, page: int, page_max: str | None, has_more: bool) -> None:
        """After a page was read with (`window`, `page`): move the bound or the page, prune `seen`."""
        if page_max is not None and (self.since is None or _when(page_max) > _when(self.since)):
            self.since = page_max
        if has_more:
            self.chain = True
            if page_max is not None and (window is None or _when(page_max) > _when(window)):
                self.window, self.page = page_max, 1
            else:
                self.window, self.page = window, page + 1
        else:
            self.chain, self.window, self.page = False, None, 1
        self._prune()

    def _prune(self) -> None:
        """Forget records older than anything a later request can return again."""
        if self.since is None:
            return
        floor = _when(self.since) - POLL_OVERLAP
        if self.chain:
            if self.window is None:
                return  # still walking pages with no bound: everything may come back
            floor = min(floor, _when(self.window))
        self.seen = {k: v for k, v in self.seen.items() if _when(v[0]) >= floor}
