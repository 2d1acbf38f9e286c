"""Tag rules (SPEC rule 48): a Shopify tag, compared case-insensitively (rule 50), -> a ShipStation tag.

Every comparison goes through `models.tags`, the one definition of "the same tag".
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from possync.models.tags import Tag, Tags


def tag_key(tag: str) -> str:
    """The case-insensitive key of a tag, as `models.tags` compares them."""
    return Tag(tag).key


def shipstation_tags(shopify_tags: Iterable[str], rules: Mapping[str, str]) -> list[str]:
    """The ShipStation tags the rules give a customer with these Shopify tags, in the rules' order."""
    held = Tags(shopify_tags)
    return merge([target for source, target in rules.items() if source in held])


def merge(*groups: Iterable[str]) -> list[str]:
    """Tags in first-seen order without case-insensitive repeats (the first spelling kept)."""
    return list(Tags().union(*groups))


def same(a: Iterable[str], b: Iterable[str]) -> bool:
    return Tags(a) == Tags(b)
