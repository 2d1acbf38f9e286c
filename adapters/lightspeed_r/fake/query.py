"""The R-Series fake's query language: `load_relations`, operator filters, `sort`, `limit` and V3 cursors.

Operators go inside the value (`timeStamp=>=,2024-01-01T00:00:00+00:00`, `...address=~,jane%`), `~` is
SQL LIKE with `%` and `_` wildcards and MySQL's `\\` escape, case-insensitive as on the vendor's MySQL
collation [U]. Paging is keyset-based: `after`/`before` are opaque base64 of the last sort key, so a walk
stays stable while records change, and the client must follow the `next` URL rather than build one
(Gotcha 5).

A LIKE condition on a text field (the pipeline's email and phone searches) is answered from the store's
`TextIndex` of that field with one regex pass (`like_line`) instead of a Python call per customer; the
per-record `Condition.matcher` remains the definition, used for every other condition, for customers
the index cannot hold and patterns it cannot run, and by the tests as the reference (`indexed=False`).
"""

from __future__ import annotations

import base64
import dataclasses
import functools
import json
import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from possync.adapters.fakes.like import MYSQL_ESCAPE, like_parts, like_pattern, part_regex
from possync.adapters.lightspeed_r.fake.store import INDEX_SEP, CustomerStore, FakeRequestError, parse_time

# Relation -> cost on one record (0.1 to-one, 0.2 to-many, docs §1.6); list queries pay double.
RELATIONS = {
    "Contact": 0.1,
    "CustomerType": 0.1,
    "Discount": 0.1,
    "Note": 0.1,
    "TaxCategory": 0.1,
    "CreditAccount": 0.1,
    "Tags": 0.2,
    "CustomFieldValues": 0.2,
    "CustomFieldValues.value": 0.2,
}
RESERVED = {"load_relations", "limit", "sort", "archived", "after", "before", "count", "or"}
REMOVED_IN_V3 = {"offset", "orderby", "orderby_desc"}
OPERATORS = ("><", ">=", "<=", "!=", "!~", ">", "<", "~", "=", "IN")
SORTABLE = ("customerID", "timeStamp", "firstName", "lastName")
MAX_LIMIT = 100
_DIGITS = frozenset("0123456789")

Getter = Callable[[Mapping[str, Any]], list[Any]]


def _contact_values(internal: str, key: str) -> Getter:
    return lambda record: [entry[key] for entry in record["contact"][internal]]


# field -> (kind, getter, relation that must be loaded)
FIELDS: dict[str, tuple[str, Getter, str | None]] = {
    "customerID": ("int", lambda r: [r["customerID"]], None),
    "customerTypeID": ("int", lambda r: [r["customerTypeID"]], None),
    "firstName": ("text", lambda r: [r["firstName"]], None),
    "lastName": ("text", lambda r: [r["lastName"]], None),
    "company": ("text", lambda r: [r["company"]], None),
    "timeStamp": ("time", lambda r: [r["timeStamp"]], None),
    "createTime": ("time", lambda r: [r["createTime"]], None),
    "Contact.Emails.ContactEmail.address": ("text", _contact_values("emails", "address"), "Contact"),
    "Contact.Phones.ContactPhone.number": ("text", _contact_values("phones", "number"), "Contact"),
    "Contact.Addresses.ContactAddress.zip": ("text", _contact_values("addresses", "zip"), "Contact"),
}


@functools.lru_cache(maxsize=1024)
def like_line(pattern: str) -> re.Pattern[str]:
    """A case-insensitive LIKE `pattern` (MySQL's `\\` escape) as a regex over `TextIndex` lines: from the
    separator to the end of one line (MULTILINE `$`), `%` and `_` never matching a newline. `pattern` must
    hold neither a newline nor the separator.

    A `%` before a lone digit (the phone search: `%6%1%3%...%`) skips to the digit's first occurrence
    without backtracking, which nearly halves a phone search's cost. Exact: whatever follows, the leftmost
    occurrence leaves it the most room. Not for the last part, which has to end the line.
    """

    first, *rest = like_parts(pattern, MYSQL_ESCAPE)
    regex = INDEX_SEP + part_regex(first, "[^\n]")
    for i, part in enumerate(rest):
        if len(part) == 1 and part[0] in _DIGITS and i < len(rest) - 1:
            regex += f"[^\n{part[0]}]*+{part[0]}"
        else:
            regex += "[^\n]*" + part_regex(part, "[^\n]")
    return re.compile(regex + "$", re.IGNORECASE | re.MULTILINE)


def parse_relations(raw: str | None) -> list[str]:
    """`load_relations` must be a JSON array string (`["Contact"]`) or `all` (Gotcha 4)."""
    if raw is None or raw == "":
        return []
    if raw == "all":
        return [r for r in RELATIONS if not r.startswith("CustomFieldValues")]
    try:
        value = json.loads(raw)
    except ValueError:
        raise FakeRequestError('load_relations must be a JSON array, e.g. ["Contact"]') from None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise FakeRequestError('load_relations must be a JSON array, e.g. ["Contact"]')
    unknown = [v for v in value if v not in RELATIONS]
    if unknown:
        raise FakeRequestError(f"Invalid relation: {unknown[0]}")
    return value


def relation_cost(relations: list[str], *, is_list: bool) -> float:
    return sum(RELATIONS[r] for r in relations) * (2 if is_list else 1)


@dataclass(frozen=True)
class Condition:
    field: str
    op: str
    operand: str

    @classmethod
    def parse(cls, field: str, raw: str) -> Condition:
        if field not in FIELDS:
            raise FakeRequestError(f"Invalid field for query: {field}")
        head, sep, rest = raw.partition(",")
        if sep and head in OPERATORS:
            return cls(field, head, rest)
        return cls(field, "=", raw)

    def _convert(self, kind: str, value: str) -> Any:
        if kind == "int":
            try:
                return int(value)
            except ValueError:
                raise FakeRequestError(f"{self.field}: expected an integer") from None
        if kind == "time":
            return parse_time(value, self.field)
        return value

    def search(self, store: CustomerStore) -> set[int] | None:
        """The ids of the customers this condition holds for, from the store's index of its field; None
        when it is not a LIKE on a text field, or its pattern has a newline or the index separator."""
        kind, getter, _relation = FIELDS[self.field]
        if kind != "text" or self.op not in ("~", "!~") or "\n" in self.operand or INDEX_SEP in self.operand:
            return None
        index = store.text_index(self.field, getter)
        found = index.matching(like_line(self.operand))
        if index.irregular:
            like = dataclasses.replace(self, op="~").matcher()
            found |= {i for i in index.irregular if like(store.customers[i])}
        return found if self.op == "~" else set(store.customers) - found

    def matcher(self) -> Callable[[Mapping[str, Any]], bool]:
        """This condition as a predicate on a record, with its operand parsed once.

        Built per query, not per record: a search walks every customer the fake holds, and parsing
        the operand and looking up the pattern for each one was most of a search's cost.
        """
        kind, getter, _relation = FIELDS[self.field]
        op = self.op
        if op in ("~", "!~"):
            fullmatch = like_pattern(self.operand, ignore_case=True, escape=MYSQL_ESCAPE).fullmatch
            if op == "~":
                return lambda record: any(fullmatch(str(v)) for v in getter(record))
            return lambda record: not any(fullmatch(str(v)) for v in getter(record))
        if op == "IN":
            try:
                options = json.loads(self.operand)
            except ValueError:
                raise FakeRequestError(f"{self.field}: IN needs a list like [1,2,3]") from None
            if not isinstance(options, list) or len(options) > 100:
                raise FakeRequestError(f"{self.field}: IN takes at most 100 values")
            wanted = {self._convert(kind, str(o)) for o in options}
            return lambda record: any(v in wanted for v in getter(record))
        if op == "><":
            low_text, sep, high_text = self.operand.partition(",")
            if not sep:
                raise FakeRequestError(f"{self.field}: >< needs two values")
            low, high = self._convert(kind, low_text), self._convert(kind, high_text)
            return lambda record: any(low <= v <= high for v in getter(record))
        operand = self._convert(kind, self.operand)
        compare = {
            "=": operator.eq,
            "!=": operator.ne,
            ">": operator.gt,
            ">=": operator.ge,
            "<": operator.lt,
            "<=": operator.le,
        }[op]
        if op == "!=":
            return lambda record: all(compare(v, operand) for v in getter(record))
        return lambda record: any(compare(v, operand) for v in getter(record))


@dataclass(frozen=True)
class ListQuery:
    relations: list[str]
    archived: str
    conditions: list[Condition]
    limit: int
    sort_field: str
    descending: bool
    after: tuple[Any, ...] | None
    before: tuple[Any, ...] | None
    count_only: bool

    @classmethod
    def parse(cls, args: Mapping[str, str]) -> ListQuery:
        for key in REMOVED_IN_V3:
            if key in args:
                raise FakeRequestError(f"{key} is not supported in API V3; follow @attributes.next")
        if "or" in args:
            raise FakeRequestError("the fake does not implement or= queries")
        relations = parse_relations(args.get("load_relations"))
        archived = args.get("archived", "false")
        if archived not in ("false", "true", "only"):
            raise FakeRequestError("archived must be false, true or only")
        conditions = [Condition.parse(k, v) for k, v in args.items() if k not in RESERVED]
        for condition in conditions:
            needed = FIELDS[condition.field][2]
            if needed and needed not in relations:
                raise FakeRequestError(f"{condition.field}: the {needed} relation must be in load_relations")
        count_only = args.get("count") == "1"
        if count_only and any(k in args for k in ("limit", "sort", "after", "before")):
            raise FakeRequestError("count cannot be combined with limit, sort, after or before")
        try:
            limit = int(args.get("limit", MAX_LIMIT))
        except ValueError:
            raise FakeRequestError("limit must be an integer") from None
        if not 1 <= limit <= MAX_LIMIT:
            raise FakeRequestError(f"limit must be between 1 and {MAX_LIMIT}")
        sort = args.get("sort", "customerID")
        descending = sort.startswith("-")
        sort_field = sort.lstrip("-")
        if sort_field not in SORTABLE:
            raise FakeRequestError(f"Invalid sort field: {sort_field}")
        if "after" in args and "before" in args:
            raise FakeRequestError("use after or before, not both")
        return cls(
            relations=relations,
            archived=archived,
            conditions=conditions,
            limit=limit,
            sort_field=sort_field,
            descending=descending,
            after=decode_token(args["after"]) if "after" in args else None,
            before=decode_token(args["before"]) if "before" in args else None,
            count_only=count_only,
        )

    def key(self, record: Mapping[str, Any]) -> tuple[Any, ...]:
        value = record[self.sort_field]
        if isinstance(value, str):
            value = value.lower()
        return (value, record["customerID"])

    def select(self, store: CustomerStore, *, indexed: bool = True) -> list[Mapping[str, Any]]:
        """The matching customers in sort order. `indexed=False` checks every condition on every record:
        the plain definition, which the indexed answer must equal."""
        with store.lock:
            ids: set[int] | None = None
            per_record: list[Condition] = []
            for condition in self.conditions:
                found = condition.search(store) if indexed else None
                if found is None:
                    per_record.append(condition)
                else:
                    ids = found if ids is None else ids & found
            records = store.all() if ids is None else [store.customers[i] for i in ids]
            if self.archived == "false":
                records = [r for r in records if not r["archived"]]
            elif self.archived == "only":
                records = [r for r in records if r["archived"]]
            for matches in [c.matcher() for c in per_record]:
                records = [r for r in records if matches(r)]
            return sorted(records, key=self.key, reverse=self.descending)

    def page(self, ordered: list[Mapping[str, Any]]) -> tuple[list[Mapping[str, Any]], str, str]:
        """(records of this page, after-token for next or "", before-token for previous or "")."""

        def later(record: Mapping[str, Any], token: tuple[Any, ...]) -> bool:
            key = self.key(record)
            return key < token if self.descending else key > token

        def earlier(record: Mapping[str, Any], token: tuple[Any, ...]) -> bool:
            key = self.key(record)
            return key > token if self.descending else key < token

        if self.before is not None:
            before = [r for r in ordered if earlier(r, self.before)]
            page = before[-self.limit :]
            has_before = len(before) > len(page)
            has_after = True
        else:
            rest = [r for r in ordered if later(r, self.after)] if self.after is not None else ordered
            page = rest[: self.limit]
            has_after = len(rest) > len(page)
            has_before = bool(page) and ordered.index(page[0]) > 0
        next_token = encode_token(self.key(page[-1])) if page and has_after else ""
        previous_token = encode_token(self.key(page[0])) if page and has_before else ""
        return page, next_token, previous_token


def encode_token(key: tuple[Any, ...]) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(key)).encode()).decode().rstrip("=")


def decode_token(token: str) -> tuple[Any, ...]:
    try:
        padded = token + "=" * (-len(token) % 4)
        value = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, TypeError):
        raise FakeRequestError("Invalid cursor") from None
    if not isinstance(value, list) or len(value) != 2:
        raise FakeRequestError("Invalid cursor")
    return tuple(value)
