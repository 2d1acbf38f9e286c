"""The R-Series fake's LIKE searches over its text indexes: they must answer exactly what checking every
record would (`select(..., indexed=False)`), after every kind of write, or the adapter tests prove nothing."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from possync.adapters.lightspeed_r.fake.query import FIELDS, ListQuery
from possync.adapters.lightspeed_r.fake.store import (
    EMAIL_TYPES,
    PHONE_TYPES,
    CustomerStore,
    FakeRequestError,
    seed_body,
)

EMAIL = "Contact.Emails.ContactEmail.address"
PHONE = "Contact.Phones.ContactPhone.number"
ZIP = "Contact.Addresses.ContactAddress.zip"
TEXT_FIELDS = [name for name, (kind, _getter, _relation) in FIELDS.items() if kind == "text"]


def seeded(*records: dict[str, Any]) -> tuple[CustomerStore, list[int]]:
    store = CustomerStore()
    ids = []
    for data in records:
        body, overrides = seed_body(data)
        ids.append(store.create(body, **overrides)["customerID"])
    return store, ids


def found(store: CustomerStore, field: str, pattern: str, op: str = "~", **args: str) -> list[int]:
    """Ids the indexed search finds, after checking that checking every record finds the same."""
    query = ListQuery.parse({"load_relations": '["Contact"]', field: f"{op},{pattern}", **args})
    indexed = [r["customerID"] for r in query.select(store)]
    assert indexed == [r["customerID"] for r in query.select(store, indexed=False)]
    return indexed


def contact(emails: Sequence[str] = (), phones: Sequence[str] = ()) -> dict[str, Any]:
    """A PUT body that replaces the customer's emails and phones."""
    return {"Contact": {
        "Emails": {"ContactEmail": [{"address": a, "useType": EMAIL_TYPES[i]} for i, a in enumerate(emails)]},
        "Phones": {"ContactPhone": [{"number": n, "useType": PHONE_TYPES[i]} for i, n in enumerate(phones)]},
    }}


def test_a_customer_created_after_the_index_is_found() -> None:
    store, (ann,) = seeded({"email": "ann@example.com"})
    assert found(store, EMAIL, "bob@example.com") == [] and found(store, PHONE, "%") == []  # builds the indexes
    bob = store.create(seed_body({"email": "bob@example.com", "phone": "(613) 555-0101"})[0])["customerID"]
    assert found(store, EMAIL, "bob@example.com") == [bob]
    assert found(store, PHONE, "%6%1%3%5%5%5%0%1%0%1%") == [bob]
    assert found(store, EMAIL, "%@example.com") == [ann, bob]


def test_an_updated_email_or_phone_is_found_by_its_new_value_only() -> None:
    store, (cid,) = seeded({"email": "old@example.com", "phone": "613-555-0100"})
    assert found(store, EMAIL, "old@example.com") == [cid] and found(store, PHONE, "%6%1%3%") == [cid]
    store.update(cid, contact(["new@example.com"], ["(206) 555-0199"]))
    assert found(store, EMAIL, "old@example.com") == [] and found(store, EMAIL, "new@example.com") == [cid]
    assert found(store, PHONE, "%6%1%3%") == [] and found(store, PHONE, "%2%0%6%5%5%5%0%1%9%9%") == [cid]
    store.update(cid, {"Contact": {"Emails": ""}})  # emails cleared: `!~` now holds (no value matches)
    assert found(store, EMAIL, "%") == [] and found(store, EMAIL, "%", op="!~") == [cid]


def test_archived_customers_are_left_out_unless_asked_for() -> None:
    store, (kept, gone) = seeded({"email": "a@shop.test"}, {"email": "b@shop.test"})
    assert found(store, EMAIL, "%@shop.test") == [kept, gone]
    store.archive(gone)
    assert found(store, EMAIL, "%@shop.test") == [kept]
    assert found(store, EMAIL, "%@shop.test", archived="true") == [kept, gone]
    assert found(store, EMAIL, "%@shop.test", archived="only") == [gone]
    store.update(gone, {"archived": False})
    assert found(store, EMAIL, "b@shop.test") == [gone]


def test_like_is_case_insensitive() -> None:
    store, (jane, ola, sam) = seeded({"email": "Jane.Doe@Example.COM"}, {"first_name": "ÖLAF"}, {"first_name": "SAM"})
    assert found(store, EMAIL, "jane.doe@example.com") == [jane]
    assert found(store, EMAIL, "JANE%") == [jane]
    assert found(store, "firstName", "ölaf") == [ola]
    assert found(store, "firstName", "\u017fam") == [sam]  # Python's case folding, as before: long s is an s


def test_underscore_is_one_character_and_percent_any_run() -> None:
    store, (one, two) = seeded({"email": "a.b@x.test"}, {"email": "ab@x.test"})
    assert found(store, EMAIL, "a_b@x.test") == [one]  # the adapter's escape for special characters
    assert found(store, EMAIL, "a__b@x.test") == []
    assert found(store, EMAIL, "a%b@x.test") == [one, two]  # % may be empty
    assert found(store, EMAIL, "%") == [one, two] and found(store, EMAIL, "") == []
    assert found(store, EMAIL, "a.b@x.test", op="!~") == [two]


def test_backslash_escapes_the_next_character_as_in_mysql() -> None:
    """MySQL's LIKE escape: `\\x` is a literal `x`, `\\%` and `\\_` are no wildcards, `\\\\` is one
    backslash, and a backslash that ends the pattern is itself."""
    store, (under, other, slash, tail) = seeded(
        {"email": "a_b@x.test"}, {"email": "aXb@x.test"}, {"email": "a\\b@x.test"}, {"email": "end\\"})
    assert found(store, EMAIL, "a\\_b@x.test") == [under]
    assert found(store, EMAIL, "a_b@x.test") == [under, other, slash]
    assert found(store, EMAIL, "a\\b@x.test") == []  # `\\b` is `b`: the customer's own address is missed
    assert found(store, EMAIL, "a\\\\b@x.test") == [slash]
    assert found(store, EMAIL, "%\\%%") == [] and found(store, EMAIL, "end\\") == [tail]
    assert found(store, EMAIL, "a\\%") == [] and found(store, EMAIL, "a\\Xb@x.test") == [other]


def test_a_wildcard_never_reaches_into_another_value() -> None:
    store, (cid, nxt) = seeded({"emails": ["ab@x.test", "cd@y.test"], "phones": ["555", "1"]}, {"phone": "7"})
    assert found(store, EMAIL, "ab%y.test") == [] and found(store, EMAIL, "%x.test%cd%") == []
    assert found(store, EMAIL, "ab@x.test_") == [] and found(store, EMAIL, "_cd@y.test") == []
    assert found(store, PHONE, "%5%1%") == [] and found(store, PHONE, "5%5%5") == [cid]
    assert found(store, PHONE, f"1%{nxt}%7") == [] and found(store, PHONE, "%7") == [nxt]  # nor into the next id


def test_several_emails_and_phones_each_find_the_customer() -> None:
    store, (many, other) = seeded({"emails": ["one@x.test", "two@x.test"],
                                   "phones": ["613-555-0100", "(206) 555-0199", "+44 20 7946 0000"]},
                                  {"email": "one@y.test", "phone": "1"})
    assert found(store, EMAIL, "two@x.test") == [many] and found(store, EMAIL, "one@%") == [many, other]
    assert found(store, PHONE, "%2%0%6%") == [many] and found(store, PHONE, "+44%") == [many]
    assert found(store, EMAIL, "one@x.test", op="!~") == [other]  # `!~`: no value matches


def test_values_with_a_newline_or_the_separator_are_still_matched() -> None:
    store, (odd, plain) = seeded({"email": "line\nbreak@x.test", "phone": "61\x003"}, {"email": "line@x.test"})
    assert found(store, EMAIL, "line%") == [odd, plain]
    assert found(store, EMAIL, "line_break@x.test") == [odd] and found(store, EMAIL, "line\nbreak@x.test") == [odd]
    assert found(store, EMAIL, "%break%", op="!~") == [plain]
    assert found(store, PHONE, "%6%1%3%") == [odd] and found(store, PHONE, "61\x003") == [odd]
    assert store.indexes[EMAIL].irregular == {odd} == store.indexes[PHONE].irregular
    store.update(odd, contact(["plain@x.test"], ["613"]))
    assert found(store, EMAIL, "line_break@x.test") == [] and found(store, EMAIL, "plain@x.test") == [odd]
    assert found(store, PHONE, "61\x003") == [] and found(store, PHONE, "%6%1%3%") == [odd]
    assert store.indexes[EMAIL].irregular == set() == store.indexes[PHONE].irregular


def test_a_lone_digit_skip_still_finds_a_later_occurrence() -> None:
    """`%6%1`: the last part must end the value, so it may not stop at the first 1 after the 6."""
    store, (a, b, c) = seeded({"phone": "1-6-1-6-1"}, {"phone": "5 5"}, {"phone": "(555)"})
    assert found(store, PHONE, "%6%1") == [a] and found(store, PHONE, "%6%1%6%1%") == [a]
    assert found(store, PHONE, "%6%1%6%1%1") == [] and found(store, PHONE, "6%1") == []
    assert found(store, PHONE, "%5%5%5%") == [c] and found(store, PHONE, "%5%5%") == [b, c]
    assert found(store, PHONE, "%1_6%") == [a] and found(store, PHONE, "%_%") == [a, b, c]  # `_` is no digit
    assert found(store, PHONE, "%_%_%_%_%_%_%") == [a] and found(store, PHONE, "%-%-%-%-%") == [a]


def test_every_text_field_is_searched_through_its_index() -> None:
    store, (cid, bob) = seeded({"first_name": "Ann", "last_name": "Lee", "address": {"zip": "K1A 0B1"}},
                               {"first_name": "Bob"})
    assert found(store, "lastName", "l_e") == [cid] and found(store, ZIP, "k1a%") == [cid]
    assert found(store, "company", "%") == [cid, bob] and found(store, "firstName", "a%", op="!~") == [bob]
    assert set(store.indexes) == {"lastName", ZIP, "company", "firstName"}
    store.update(cid, {"lastName": "Ng"})
    assert found(store, "lastName", "l_e") == [] and found(store, "lastName", "NG") == [cid]


def test_records_stay_in_id_order_with_explicit_ids() -> None:
    store, ids = seeded({"customer_id": 10, "email": "x@t"}, {"customer_id": 3, "email": "x@t"}, {"email": "x@t"})
    assert ids == [10, 3, 1]
    assert [r["customerID"] for r in store.all()] == [1, 3, 10]
    assert store.create({})["customerID"] == 2
    assert [r["customerID"] for r in store.all()] == [1, 2, 3, 10]
    assert found(store, EMAIL, "x@t") == [1, 3, 10]
    assert found(store, EMAIL, "x@t", sort="-customerID") == [10, 3, 1]
    with pytest.raises(FakeRequestError):
        store.create({}, customer_id=3)


# --- the indexed search against the per-record one, on random records, writes and patterns ---------------
# Few characters, so values repeat: case pairs and Unicode case folds (long s, Kelvin sign, dotless i), digits
# for the phone search's skip, and the two characters the index has to keep out of its lines.
TEXT = "aAsSkK\u017f\u212a\u0131I56-@ \n\x00\\%_"
values = st.text(alphabet=TEXT, max_size=6)
customers = st.fixed_dictionaries({
    "firstName": values,
    "company": values,
    "emails": st.lists(values, max_size=len(EMAIL_TYPES)),
    "phones": st.lists(values, max_size=3),
    "zips": st.lists(values, max_size=2),
    "archived": st.booleans(),
})
writes = st.lists(st.tuples(st.sampled_from(["create", "update"]), st.none() | st.integers(1, 8), customers),
                  min_size=1, max_size=8)


def like_of(value: str) -> st.SearchStrategy[str]:
    """Patterns near `value`, so that many match it: each character kept, case-swapped, `_`, or with a `%`."""
    variants = [st.sampled_from([c, c, c.swapcase(), "_", "%", f"{c}%", f"%{c}", "", f"\\{c}"]) for c in value]
    return st.tuples(*variants).map("".join)


def write_body(customer: dict[str, Any]) -> dict[str, Any]:
    body = contact(customer["emails"], customer["phones"])
    body["Contact"]["Addresses"] = {"ContactAddress": [{"zip": z} for z in customer["zips"]]}
    return {**body, "firstName": customer["firstName"], "company": customer["company"],
            "archived": customer["archived"]}


@settings(max_examples=200, deadline=None)
@given(writes=writes, data=st.data())
def test_indexed_search_equals_checking_every_record(
    writes: list[tuple[str, int | None, dict[str, Any]]], data: st.DataObject
) -> None:
    store = CustomerStore()
    written: list[str] = []
    for kind, customer_id, customer in writes:
        try:
            if kind == "create":
                store.create(write_body(customer), customer_id=customer_id)
            elif customer_id is not None and store.get(customer_id) is not None:
                store.update(customer_id, write_body(customer))
        except FakeRequestError:
            continue  # an explicit id that is taken
        written += [customer["firstName"], customer["company"], *customer["emails"], *customer["phones"],
                    *customer["zips"]]
        for _ in range(3):  # after every write: the indexes must keep up
            pattern = data.draw(st.text(alphabet=TEXT + "%_\\", max_size=6) | st.sampled_from(written).flatmap(like_of))
            found(store, data.draw(st.sampled_from(TEXT_FIELDS)), pattern, data.draw(st.sampled_from(["~", "!~"])),
                  archived=data.draw(st.sampled_from(["false", "true", "only"])))
    assert [r["customerID"] for r in store.all()] == sorted(store.customers)
