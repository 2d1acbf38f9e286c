"""Tag rules (SPEC rule 48): a Shopify tag, compared case-insensitively (rule 50), -> a ShipStation tag."""

from __future__ import annotations

from collections.abc import Iterable, Mapping


def tag_key(tag: str) -> str:
    """The one case-insensitive comparison of tags here (to be replaced by the shared tag type in `models/`)."""
    return " ".join(tag.split()).casefold()


def shipstation_tags(shopify_tags: Iterable[str], rules: Mapping[str, str]) -> list[str]:
    """The ShipStation tags the rules give a customer with these Shopify tags, in the rules' order."""
    held = {tag_key(t) for t in shopify_tags if t.strip()}
    return merge([target for source, target in rules.items() if tag_key(source) in held])


def merge(*groups: Iterable[str]) -> list[str]:
    """Tags in first-seen order without case-insensitive repeats (the first spelling kept)."""
    seen: dict[str, str] = {}
    for group in groups:
        for tag in group:
            if tag.strip() and tag_key(tag) not in seen:
                seen[tag_key(tag)] = tag.strip()
    return list(seen.values())


def same(a: Iterable[str], b: Iterable[str]) -> bool:
    return {tag_key(t) for t in a} == {tag_key(t) for t in b}
