"""Customer tags as Shopify understands them (SPEC rule 50): `VIP` and `vip` are one tag.

`Tag` is trimmed text that compares and hashes case-insensitively; `Tags` is an ordered, de-duplicated
collection of them whose equality ignores order and case. Every place possync reads, compares or
writes tags (each POS's mapping, the diffs, POS -> Shopify, the CRM and ShipStation destinations)
goes through these two, so no module keeps its own idea of "the same tag".
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

SHOPIFY_MAX_TAGS = 250  # reference §4.2
SHOPIFY_MAX_TAG_LENGTH = 255
SEPARATOR = ", "  # how a POS without tags holds them in one text field (rule 18)


class Tag(str):
    """One tag: white space trimmed; equal to any string that differs only in case."""

    __slots__ = ()

    def __new__(cls, value: str) -> Tag:
        return super().__new__(cls, value.strip())

    @property
    def key(self) -> str:
        return self.casefold()

    def __eq__(self, other: object) -> bool:
        if isinstance(other, str):
            return self.casefold() == other.strip().casefold()
        return NotImplemented

    def __ne__(self, other: object) -> bool:
        result = self.__eq__(other)
        return result if result is NotImplemented else not result

    def __hash__(self) -> int:
        return hash(self.casefold())


class Tags(tuple[str, ...]):
    """Tags in first-seen order, each once whatever its case (the first spelling is kept).

    Equality is as sets, case-insensitively: Shopify returns tags sorted, a POS in the order typed. The
    items are plain trimmed strings, so `set(tags)` or `"VIP" in list(tags)` behave as any string's would;
    compare through `Tags` (or `Tag`) to compare as Shopify does.
    """

    _keys: frozenset[str]  # the case-folded tags, computed once: every comparison uses them

    def __new__(cls, values: Iterable[Any] = ()) -> Tags:
        if type(values) is Tags:
            return values
        seen: dict[str, str] = {}
        for value in values:
            if not isinstance(value, str):
                continue
            tag = str.strip(value)
            if tag and (key := tag.casefold()) not in seen:
                seen[key] = tag
        return cls._of(tuple(seen.values()), frozenset(seen))

    @classmethod
    def parse(cls, value: Any) -> Tags:
        """Tags from a list, or from text separated by commas (or `;`, typed by hand in a POS field)."""
        if isinstance(value, str):
            return cls(value.replace(";", ",").split(","))
        if isinstance(value, list | tuple):
            return cls(value)
        return cls()

    def keys(self) -> frozenset[str]:
        return self._keys

    def __eq__(self, other: object) -> bool:
        if isinstance(other, tuple | list):
            return self.keys() == Tags(other).keys()
        return NotImplemented

    def __ne__(self, other: object) -> bool:
        result = self.__eq__(other)
        return result if result is NotImplemented else not result

    def __hash__(self) -> int:
        return hash(self.keys())

    def __contains__(self, item: object) -> bool:
        return isinstance(item, str) and item.strip().casefold() in self._keys

    def union(self, *others: Iterable[Any]) -> Tags:
        """These tags, then those of `others` not already here."""
        merged = self
        for group in others:
            group = Tags(group)
            have = merged._keys
            if not group._keys <= have:  # both already clean: no need to trim and fold again
                merged = Tags._of((*merged, *(tag for tag in group if tag.casefold() not in have)),
                                  have | group._keys)
        return merged

    @classmethod
    def _of(cls, items: tuple[str, ...], keys: frozenset[str]) -> Tags:
        made = tuple.__new__(cls, items)
        made._keys = keys
        return made

    def without(self, *others: Iterable[Any]) -> Tags:
        gone = frozenset().union(*(Tags(group)._keys for group in others))
        if gone.isdisjoint(self._keys):
            return self
        return Tags(tag for tag in self if tag.casefold() not in gone)

    def missing_from(self, other: Iterable[Any]) -> Tags:
        """The tags here that `other` does not hold (case-insensitively)."""
        if self._keys <= Tags(other)._keys:
            return _EMPTY
        return self.without(other)

    def text(self, separator: str = SEPARATOR) -> str:
        """One text field's value; a comma inside a tag would split it on reading, so it becomes a space."""
        return separator.join(Tags(" ".join(tag.replace(",", " ").split()) for tag in self))

    def for_shopify(self) -> tuple[Tags, list[dict[str, str]]]:
        """What Shopify accepts (reference §4.2), and what had to be dropped, each with the reason.

        A comma cannot be inside a Shopify tag (REST stores tags as one comma-separated string), so it
        becomes a space; a tag longer than 255 characters is dropped; past 250 tags the rest are dropped.
        """
        kept: list[str] = []
        dropped: list[dict[str, str]] = []
        for tag in Tags(" ".join(tag.replace(",", " ").split()) for tag in self):
            if len(tag) > SHOPIFY_MAX_TAG_LENGTH:
                dropped.append({"tag": tag[:40], "reason": f"longer than {SHOPIFY_MAX_TAG_LENGTH} characters"})
            elif len(kept) >= SHOPIFY_MAX_TAGS:
                dropped.append({"tag": tag[:40], "reason": f"more than {SHOPIFY_MAX_TAGS} tags"})
            else:
                kept.append(tag)
        return Tags(kept), dropped



_EMPTY = Tags()
