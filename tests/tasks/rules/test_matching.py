"""Matching before anything is created (SPEC rules 6 to 11, 33), against a real database and a fake POS."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy.orm import Session

from possync.adapters.base import PosCustomer
from possync.models.customer import Customer
from possync.models.db import get_sessionmaker
from possync.models.pos_index import index_customers, lookup, mark_status
from possync.models.tables import PosStatus
from possync.tasks.rules.matching import NO_MATCH, CandidateRow, choose_candidate, find_match, match_keys
from tests.tasks.rules.support import MemoryAdapter, make_tenant

EMAIL_PHONE = ("email", "phone")
JANE = Customer(first_name="Jane", email="Jane.Doe@Example.com", phone="+1 613-555-1212")


@pytest.fixture(params=["postgresql", "sqlite"])
def db(request: pytest.FixtureRequest) -> Iterator[Session]:
    url = request.getfixturevalue("db_url" if request.param == "postgresql" else "sqlite_url")
    s = get_sessionmaker(url)()
    yield s
    s.rollback()
    s.close()


@pytest.fixture
def tid(db: Session) -> int:
    return make_tenant(db)


def pc(
    pos_id: str, email: str | None = None, phone: str | None = None, status: PosStatus = PosStatus.ACTIVE
) -> PosCustomer:
    return PosCustomer(pos_id, status, Customer(email=email, phone=phone), created_at=datetime(2024, 1, 1, tzinfo=UTC))


def match(db: Session, tid: int, customer: Customer = JANE, order: tuple[str, ...] = EMAIL_PHONE,
          adapter: MemoryAdapter | None = None, region: str = "US"):  # type: ignore[no-untyped-def]
    return find_match(customer, order=order, region=region, session=db, tenant_id=tid, adapter=adapter)


# --- rule 6: the order of lookups -----------------------------------------------------------------


def test_rule_6_email_then_phone_prefers_the_email_match(db: Session, tid: int) -> None:
    index_customers(db, tid, [pc("1", phone="6135551212"), pc("2", email="jane.doe@example.com")], "US")
    result = match(db, tid)
    assert (result.pos_id, result.via, result.matched_on) == ("2", "index", "email")


def test_rule_6_phone_then_email_prefers_the_phone_match(db: Session, tid: int) -> None:
    index_customers(db, tid, [pc("1", phone="6135551212"), pc("2", email="jane.doe@example.com")], "US")
    result = match(db, tid, order=("phone", "email"))
    assert (result.pos_id, result.matched_on) == ("1", "phone")


def test_rule_6_email_only_and_phone_only_ignore_the_other_key(db: Session, tid: int) -> None:
    index_customers(db, tid, [pc("1", phone="6135551212")], "US")
    assert match(db, tid, order=("email",)) == NO_MATCH
    assert match(db, tid, order=("phone",)).pos_id == "1"
    index_customers(db, tid, [pc("1", phone="0000"), pc("2", email="jane.doe@example.com")], "US")
    assert match(db, tid, order=("phone",)) == NO_MATCH


def test_rule_6_falls_back_to_the_second_key(db: Session, tid: int) -> None:
    index_customers(db, tid, [pc("1", email=None, phone="613.555.1212")], "US")
    assert match(db, tid).pos_id == "1"


# --- rule 10 (amended): a phone match contradicted by the email is another person -------------------
VICTIM = pc("7", email="victim@example.com", phone="(613) 555-1212")
MAL = Customer(first_name="Mal", last_name="Lory", email="attacker@evil.test", phone="+16135551212")


def test_rule_10_new_leaves_a_contradicted_phone_match_out_and_reports_it(db: Session, tid: int) -> None:
    index_customers(db, tid, [VICTIM], "US")
    result = find_match(MAL, order=EMAIL_PHONE, region="US", session=db, tenant_id=tid, adapter=None)
    assert result.pos_id is None and not result.contradicted
    assert result.near_match is not None and result.near_match.to_json() == {
        "pos_id": "7", "matched_on": "phone", "differs": "email"}


def test_rule_10_new_asks_the_vendor_too_and_keeps_refusing_the_other_person(db: Session, tid: int) -> None:
    adapter = MemoryAdapter()
    victim = adapter.add(Customer(first_name="Vic", email="victim@example.com", phone="+16135551212"))
    result = find_match(MAL, order=EMAIL_PHONE, region="US", session=db, tenant_id=tid, adapter=adapter)
    assert ("phone", "+16135551212") in adapter.searches
    assert result.pos_id is None and result.near_match is not None and result.near_match.pos_id == victim


def test_rule_10_new_prefers_a_record_of_the_same_person_on_that_phone(db: Session, tid: int) -> None:
    mine = pc("9", email="Attacker@Evil.test ", phone="613-555-1212")
    index_customers(db, tid, [VICTIM, mine], "US")
    result = find_match(MAL, order=("phone", "email"), region="US", session=db, tenant_id=tid, adapter=None)
    assert (result.pos_id, result.matched_on, result.near_match) == ("9", "phone", None)


@pytest.mark.parametrize(("setting", "contradicted"), [("update", True), ("link", True)])
def test_rule_10_update_and_link_use_the_record_and_say_it_is_contradicted(
        db: Session, tid: int, setting: str, contradicted: bool) -> None:
    index_customers(db, tid, [VICTIM], "US")
    result = find_match(MAL, order=EMAIL_PHONE, region="US", session=db, tenant_id=tid, adapter=None,
                        conflicting=setting)
    assert (result.pos_id, result.contradicted) == ("7", contradicted)
    assert result.near_match is not None and result.near_match.pos_id == "7"


def test_rule_10_an_email_match_is_not_contradicted_by_another_phone(db: Session, tid: int) -> None:
    index_customers(db, tid, [pc("3", email="attacker@evil.test", phone="+1 202 555 0100")], "US")
    result = find_match(MAL, order=EMAIL_PHONE, region="US", session=db, tenant_id=tid, adapter=None)
    assert (result.pos_id, result.matched_on, result.near_match, result.contradicted) == ("3", "email", None, False)


def test_rule_10_a_record_without_an_email_is_not_contradicted(db: Session, tid: int) -> None:
    index_customers(db, tid, [pc("4", email=None, phone="613 555 1212")], "US")
    result = find_match(MAL, order=EMAIL_PHONE, region="US", session=db, tenant_id=tid, adapter=None)
    assert (result.pos_id, result.near_match) == ("4", None)


def test_rule_6_no_match_means_create(db: Session, tid: int) -> None:
    result = match(db, tid)
    assert result == NO_MATCH and not result.found and result.pos_id is None


def test_rule_6_unknown_matching_key_is_rejected() -> None:
    with pytest.raises(ValueError, match="customer_matching"):
        match_keys(JANE, ("email", "name"), "US")
    assert match_keys(JANE, (" Email ", "phone", "email"), "US") == [
        ("email", "jane.doe@example.com"), ("phone", "6135551212")
    ]
    assert match_keys(Customer(), EMAIL_PHONE, "US") == []


# --- rules 7 and 8: keys ----------------------------------------------------------------------------


def test_rule_7_email_matches_case_insensitively_after_trimming(db: Session, tid: int) -> None:
    index_customers(db, tid, [pc("1", email="  JANE.DOE@example.COM ")], "US")
    assert match(db, tid, order=("email",)).pos_id == "1"


@pytest.mark.parametrize("stored", ["6135551212", "+16135551212", "(613)555-1212", "+1 613-555-1212", "1 613 555 1212"])
def test_rule_8_nanp_phone_formats_match(db: Session, tid: int, stored: str) -> None:
    index_customers(db, tid, [pc("1", phone=stored)], "US")
    assert match(db, tid, order=("phone",)).pos_id == "1"


def test_rule_8_other_countries_match_in_the_tenant_region(db: Session, tid: int) -> None:
    index_customers(db, tid, [pc("1", phone="020 7946 0958")], "GB")
    uk = Customer(phone="+44 20 7946 0958")
    assert match(db, tid, customer=uk, order=("phone",), region="GB").pos_id == "1"


def test_rule_8_a_local_number_from_shopify_matches_in_the_tenant_region(db: Session, tid: int) -> None:
    """The Shopify side typed locally ("020 ..."): only the tenant's region makes it the same number."""
    index_customers(db, tid, [pc("1", phone="+44 20 7946 0958")], "GB")
    uk = Customer(phone="020 7946 0958")
    assert match(db, tid, customer=uk, order=("phone",), region="GB").pos_id == "1"


def test_rule_9_a_vendor_result_is_confirmed_and_indexed_in_the_tenant_region(db: Session, tid: int) -> None:
    adapter = MemoryAdapter()
    pos_id = adapter.add(Customer(phone="020 7946 0958"))  # the vendor's exact-text search finds it as typed
    uk = Customer(phone="020 7946 0958")
    assert match(db, tid, customer=uk, order=("phone",), adapter=adapter, region="GB").pos_id == pos_id
    again = match(db, tid, customer=Customer(phone="+44 20 7946 0958"), order=("phone",), adapter=adapter,
                  region="GB")
    assert (again.pos_id, again.via) == (pos_id, "index")  # indexed under the GB key, not a US reading


def test_rule_10_the_setting_holds_for_a_vendor_search_too(db: Session, tid: int) -> None:
    adapter = MemoryAdapter()
    pos_id = adapter.add(Customer(email="victim@example.com", phone="+16135551212"))
    result = find_match(MAL, order=("phone",), region="US", session=db, tenant_id=tid, adapter=adapter,
                        conflicting="link")
    assert (result.pos_id, result.via, result.matched_on, result.contradicted) == (pos_id, "vendor", "phone", True)


def test_rule_10_update_with_no_record_on_that_phone_creates(db: Session, tid: int) -> None:
    result = find_match(MAL, order=("phone",), region="US", session=db, tenant_id=tid, adapter=None,
                        conflicting="update")
    assert result == NO_MATCH


# --- rule 9: index first, then a confirming vendor search ------------------------------------------


def test_rule_9_an_index_hit_does_not_call_the_vendor(db: Session, tid: int) -> None:
    adapter = MemoryAdapter()
    index_customers(db, tid, [pc("1", email="jane.doe@example.com")], "US")
    assert match(db, tid, adapter=adapter).via == "index"
    assert adapter.searches == []


def test_rule_9_the_index_finds_a_formatted_phone_the_vendor_search_misses(db: Session, tid: int) -> None:
    adapter = MemoryAdapter()
    pos_id = adapter.add(Customer(phone="(613) 555-1212"))
    assert adapter.search_by_phone("+1 613-555-1212") == []  # exact-text vendor search
    index_customers(db, tid, adapter.changes_since(None).customers, "US")  # the change poll
    assert match(db, tid, order=("phone",), adapter=adapter).pos_id == pos_id


def test_rule_9_a_vendor_search_confirms_an_index_miss_and_indexes_what_it_read(db: Session, tid: int) -> None:
    adapter = MemoryAdapter()
    pos_id = adapter.add(Customer(email="jane.doe@example.com"))
    result = match(db, tid, adapter=adapter)
    assert (result.pos_id, result.via, result.matched_on) == (pos_id, "vendor", "email")
    assert adapter.searches == [("email", "jane.doe@example.com")]
    assert [e.pos_customer_id for e in lookup(db, tid, email_key="jane.doe@example.com")] == [pos_id]
    assert match(db, tid, adapter=adapter).via == "index"  # next time: no vendor call


def test_rule_9_fuzzy_vendor_results_are_rechecked_on_our_side(db: Session, tid: int) -> None:
    adapter = MemoryAdapter()
    other = adapter.add(Customer(email="jane.doe@example.com.au"))  # "contains" the searched email
    result = match(db, tid, order=("email",), adapter=adapter)
    assert result == NO_MATCH
    assert [e.pos_customer_id for e in lookup(db, tid, email_key="jane.doe@example.com.au")] == [other]


def test_rule_9_vendor_search_follows_the_key_order(db: Session, tid: int) -> None:
    adapter = MemoryAdapter()
    pos_id = adapter.add(Customer(phone="+1 613-555-1212"))
    result = match(db, tid, adapter=adapter)
    assert (result.pos_id, result.via, result.matched_on) == (pos_id, "vendor", "phone")
    assert adapter.searches == [("email", "jane.doe@example.com"), ("phone", "+1 613-555-1212")]


def test_rule_9_archived_vendor_results_do_not_count(db: Session, tid: int) -> None:
    adapter = MemoryAdapter()
    adapter.add(Customer(email="jane.doe@example.com"), status=PosStatus.ARCHIVED)
    assert match(db, tid, order=("email",), adapter=adapter) == NO_MATCH


# --- rules 10 and 11 --------------------------------------------------------------------------------


def test_rule_10_different_email_and_phone_is_a_new_customer(db: Session, tid: int) -> None:
    adapter = MemoryAdapter()
    adapter.add(Customer(first_name="Jane", email="jane@store.example", phone="6135550000"))
    index_customers(db, tid, adapter.changes_since(None).customers, "US")
    assert match(db, tid, adapter=adapter) == NO_MATCH


def test_rule_11_several_matches_link_the_oldest_and_flag_ambiguity(db: Session, tid: int) -> None:
    index_customers(db, tid, [pc("42", email="jane.doe@example.com"), pc("7", email="jane.doe@example.com"),
                              pc("3", email="jane.doe@example.com", status=PosStatus.ARCHIVED)], "US")
    result = match(db, tid)
    assert (result.pos_id, result.ambiguous, result.candidates) == ("7", True, ["7", "42"])


def test_rule_11_ambiguous_vendor_results_never_create(db: Session, tid: int) -> None:
    adapter = MemoryAdapter()
    first = adapter.add(Customer(email="jane.doe@example.com"))
    adapter.add(Customer(email=" jane.doe@example.com "))  # stored with stray spaces
    result = match(db, tid, adapter=adapter)
    assert result.pos_id == first and result.ambiguous and len(result.candidates) == 2


def test_rule_11_choose_candidate_is_deterministic_without_a_database() -> None:
    rows = [CandidateRow("b", "~2024|b"), CandidateRow("a", "~2024|a"), CandidateRow("z", "~2020|z", "deleted")]
    for ordering in (rows, list(reversed(rows))):
        result = choose_candidate(ordering, via="index")
        assert result is not None and (result.pos_id, result.candidates) == ("a", ["a", "b"])
    single = choose_candidate(rows[:1], via="vendor")
    assert single is not None and not single.ambiguous
    assert choose_candidate(rows[2:], via="index") is None
    assert choose_candidate([], via="index") is None


# --- rules 12 and 33 --------------------------------------------------------------------------------


def test_rule_12_an_unarchived_customer_can_be_matched_again(db: Session, tid: int) -> None:
    index_customers(db, tid, [pc("5", email="jane.doe@example.com")], "US")
    mark_status(db, tid, "5", PosStatus.ARCHIVED)
    assert match(db, tid) == NO_MATCH
    index_customers(db, tid, [pc("5", email="jane.doe@example.com")], "US")  # the poll sees it active again
    assert match(db, tid).pos_id == "5"


def test_rule_12_a_deleted_x_series_customer_is_never_matched(db: Session, tid: int) -> None:
    index_customers(db, tid, [pc("uuid-1", email="jane.doe@example.com", status=PosStatus.DELETED)], "US")
    assert match(db, tid, adapter=MemoryAdapter()) == NO_MATCH


def test_rule_33_a_customer_created_by_one_event_is_found_by_the_next(db: Session, tid: int) -> None:
    """The first job creates and indexes the POS customer; the second job matches it, never a second create."""
    adapter = MemoryAdapter()
    assert match(db, tid, adapter=adapter) == NO_MATCH
    created = adapter.create_customer(JANE)
    index_customers(db, tid, [created], "US")
    db.commit()
    searches = len(adapter.searches)
    second = match(db, tid, adapter=adapter)
    assert (second.pos_id, second.via) == (created.pos_id, "index")
    assert len(adapter.searches) == searches


def test_rule_10_a_customer_without_email_or_phone_matches_nobody_and_asks_no_one(db: Session, tid: int) -> None:
    """Only a name to go on: nothing to look up (the index probe needs a key) and no vendor search."""
    adapter = MemoryAdapter()
    adapter.add(Customer(first_name="Jane", email="jane.doe@example.com"))
    assert match(db, tid, customer=Customer(first_name="Jane"), adapter=adapter) == NO_MATCH
    assert adapter.searches == []
