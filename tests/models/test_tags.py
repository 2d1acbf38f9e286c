"""Rule 50: tags are case-insensitive everywhere; writes to Shopify keep Shopify's limits."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from possync.models.customer import Customer
from possync.models.tags import SHOPIFY_MAX_TAG_LENGTH, SHOPIFY_MAX_TAGS, Tag, Tags

text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=12)
tag_lists = st.lists(text, max_size=12)
latin = st.text(alphabet="abcXYZ -_1", max_size=8)  # letters whose case swaps both ways


@given(latin, st.sampled_from([str.upper, str.lower, str.swapcase, str.title]))
def test_a_tag_equals_itself_in_any_case(value: str, spell: object) -> None:
    other = spell(value)  # type: ignore[operator]
    assert Tag(value) == other and Tag(other) == value
    assert hash(Tag(value)) == hash(Tag(other))
    assert Tag(value) != value + "x"


@given(tag_lists)
def test_tags_hold_each_tag_once_whatever_its_case(values: list[str]) -> None:
    tags = Tags(values)
    keys = [t.casefold() for t in tags]
    assert len(keys) == len(set(keys))
    assert all(t and t == t.strip() for t in tags)
    assert set(keys) == {v.strip().casefold() for v in values if v.strip()}


@given(st.lists(latin, max_size=12))
def test_tags_equal_in_any_order_and_case(values: list[str]) -> None:
    assert Tags(values) == Tags(reversed([v.swapcase() for v in values]))
    assert Tags(values) == [v.upper() for v in values]
    assert Tags(values) == Tags(Tags(values))
    assert hash(Tags(values)) == hash(Tags([v.casefold() for v in values]))


@given(tag_lists, tag_lists)
def test_union_adds_only_what_is_missing(one: list[str], two: list[str]) -> None:
    merged = Tags(one).union(two)
    assert tuple(merged)[: len(Tags(one))] == tuple(Tags(one))  # the first spelling stays first
    assert merged.keys() == Tags(one).keys() | Tags(two).keys()
    assert not Tags(two).missing_from(merged)


@given(tag_lists)
def test_text_round_trips(values: list[str]) -> None:
    tags = Tags(v.replace(",", " ").replace(";", " ") for v in values)
    assert Tags.parse(tags.text()) == Tags(" ".join(t.split()) for t in tags)


def test_a_pos_holding_shopify_needs_no_write_of_shopify() -> None:
    assert not Tags(["Shopify", "ACME"]).missing_from(["shopify", "acme", "VIP"])
    assert Tags(["Shopify", "New"]).missing_from(["shopify"]) == ("new",)
    assert "SHOPIFY" in Tags(["shopify"])


def test_customers_compare_and_fingerprint_tags_case_insensitively() -> None:
    one, two = Customer(tags=("VIP", "Shopify")), Customer(tags=("shopify", "vip"))
    assert one == two
    assert one.fingerprint() == two.fingerprint()
    assert Customer.from_json(one.to_json()) == one
    assert Customer(tags=("VIP",)) != Customer(tags=("VIP", "x"))


@given(st.lists(st.text(min_size=1, max_size=300), max_size=300))
def test_for_shopify_keeps_the_limits_and_names_what_it_dropped(values: list[str]) -> None:
    kept, dropped = Tags(values).for_shopify()
    assert len(kept) <= SHOPIFY_MAX_TAGS
    assert all(len(t) <= SHOPIFY_MAX_TAG_LENGTH and "," not in t for t in kept)
    cleaned = Tags(" ".join(v.replace(",", " ").split()) for v in values)
    assert len(kept) + len(dropped) == len(cleaned)


def test_for_shopify_drops_the_251st_tag_and_a_long_one_with_reasons() -> None:
    kept, dropped = Tags([f"t{i}" for i in range(251)] + ["x" * 256, "a,b"]).for_shopify()
    assert len(kept) == 250 and "a b" not in kept
    assert [d["reason"] for d in dropped] == ["more than 250 tags", "longer than 255 characters", "more than 250 tags"]
    kept, dropped = Tags(["a,b", "VIP"]).for_shopify()
    assert tuple(kept) == ("a b", "VIP") and dropped == []
