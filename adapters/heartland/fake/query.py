"""Heartland's list query language, as the fake evaluates it: `_filter` JSON, `sort[]`, paging.

`_filter` is JSON in a query parameter (gotcha 21). The official client sends `_filter=<json>`; calling
its `filter()` twice sends a JSON array; other clients send repeated `_filter[]=<json>` [C-official][C].
All given filters must hold. Inside one object every key must hold (implicit AND); `$and` / `$or` take a
list of objects [U]. Field operators: equality (a bare value), `$gt` [C-official], `$in` [C],
`$gte`, `$lt`, `$lte`, `$ne`, `$nin`, `$like` [U: "probably supported"]. `$like` is SQL LIKE (`%`, `_`),
case-sensitive like plain equality: whether Heartland's email match ignores case is unknown, so the fake
takes the stricter reading. Custom fields are addressed as `custom@<key>` [C-official].
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from possync.adapters.fakes.like import like_pattern


class QueryError(ValueError):
    """A malformed `_filter` / `sort[]`; the fake answers 400 with this message."""


def parse_filters(raw_values: Sequence[str]) -> list[Any]:
    filters: list[Any] = []
    for raw in raw_values:
        try:
            value = json.loads(raw)
        except ValueError:
            raise QueryError("_filter is not valid JSON") from None
        items = value if isinstance(value, list) else [value]
        for item in items:
            if not isinstance(item, dict):
                raise QueryError("_filter must be a JSON object or an array of objects")
            _check(item)
            filters.append(item)
    return filters


_FIELD_OPS = frozenset({"$gt", "$gte", "$lt", "$lte", "$ne", "$in", "$nin", "$like", "$eq"})


def _check(flt: Mapping[str, Any]) -> None:
    for key, cond in flt.items():
        if key in ("$and", "$or"):
            if not isinstance(cond, list) or not all(isinstance(c, dict) for c in cond):
                raise QueryError(f"{key} takes a list of objects")
            for c in cond:
                _check(c)
        elif key.startswith("$"):
            raise QueryError(f"unknown operator {key}")
        elif isinstance(cond, dict):
            for op, arg in cond.items():
                if op not in _FIELD_OPS:
                    raise QueryError(f"unknown operator {op} on {key}")
                if op in ("$in", "$nin") and not isinstance(arg, list):
                    raise QueryError(f"{op} on {key} takes a list")


def field_value(record: Mapping[str, Any], key: str) -> Any:
    if key.startswith("custom@"):
        return (record.get("custom") or {}).get(key[len("custom@"):])
    return record.get(key)


def _when(value: Any) -> datetime | None:
    return _parsed_stamp(value) if isinstance(value, str) else None


@functools.lru_cache(maxsize=200_000)
def _parsed_stamp(value: str) -> datetime | None:
    """Cached: a list request compares every record's fields, and a soak's fake holds tens of thousands."""
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _comparable(a: Any, b: Any) -> tuple[Any, Any] | None:
    """Timestamps compare as instants (offsets differ); numbers and strings as themselves."""
    wa, wb = _when(a), _when(b)
    if wa is not None and wb is not None:
        return wa, wb
    if isinstance(a, bool) or isinstance(b, bool):
        return None
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a, b
    if isinstance(a, str) and isinstance(b, str):
        return a, b
    return None


def _equal(a: Any, b: Any) -> bool:
    pair = _comparable(a, b)
    if pair is not None:
        return pair[0] == pair[1]
    if isinstance(a, int) and not isinstance(a, bool) and isinstance(b, str) and b.isdigit():
        return a == int(b)  # ids typed as strings in a query still match
    return a == b


def _among(value: Any, choices: Sequence[Any]) -> bool:
    """`_equal` to any of `choices`. A string that is no timestamp equals only the same string, which a
    list's own `in` finds without comparing each pair (a phone's `$in` spellings, against every record)."""
    if isinstance(value, str) and _when(value) is None:
        return value in choices
    return any(_equal(value, a) for a in choices)


def _like(value: Any, pattern: Any) -> bool:
    if not isinstance(value, str) or not isinstance(pattern, str):
        return False
    return like_pattern(pattern, ignore_case=False).fullmatch(value) is not None


_ORDER: dict[str, Callable[[Any, Any], bool]] = {
    "$gt": lambda a, b: a > b,
    "$gte": lambda a, b: a >= b,
    "$lt": lambda a, b: a < b,
    "$lte": lambda a, b: a <= b,
}


def _holds(value: Any, op: str, arg: Any) -> bool:
    if op == "$eq":
        return _equal(value, arg)
    if op == "$ne":
        return not _equal(value, arg)
    if op == "$in":
        return _among(value, arg)
    if op == "$nin":
        return not _among(value, arg)
    if op == "$like":
        return _like(value, arg)
    pair = _comparable(value, arg)
    return pair is not None and _ORDER[op](*pair)


def matches(record: Mapping[str, Any], flt: Mapping[str, Any]) -> bool:
    for key, cond in flt.items():
        if key == "$and":
            if not all(matches(record, c) for c in cond):
                return False
        elif key == "$or":
            if not any(matches(record, c) for c in cond):
                return False
        elif isinstance(cond, dict):
            value = field_value(record, key)
            if not all(_holds(value, op, arg) for op, arg in cond.items()):
                return False
        elif not _equal(field_value(record, key), cond):
            return False
    return True


def sort_records(records: list[dict[str, Any]], sort_values: Sequence[str]) -> list[dict[str, Any]]:
    """`sort[]=field` or `sort[]=field,desc`; id ascending breaks ties (and is the default order)."""
    out = sorted(records, key=lambda r: r["id"])
    for spec in reversed(list(sort_values)):
        name, _, direction = spec.partition(",")
        name = name.strip()
        if not name:
            raise QueryError("sort[] needs a field name")
        if direction.strip() not in ("", "asc", "desc"):
            raise QueryError(f"sort direction must be asc or desc, not {direction!r}")

        def key(record: Mapping[str, Any], name: str = name) -> tuple[int, Any]:
            value = field_value(record, name)
            when = _when(value)
            if value is None:
                return (0, 0)
            if when is not None:
                return (1, when.timestamp())
            return (2, value) if isinstance(value, int | float) else (3, str(value))

        out.sort(key=key, reverse=direction.strip() == "desc")
    return out
