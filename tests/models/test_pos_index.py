"""The POS index (SPEC rule 9) on PostgreSQL and on SQLite (the embedded demo)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from possync.adapters.base import PosCustomer
from possync.models.customer import Customer
from possync.models.db import get_sessionmaker
from possync.models.normalise import email_key, phone_key
from possync.models.pos_index import forget, get_entry, index_customers, indexed_reading, lookup, mark_status
from possync.models.tables import PosIndexEntry, PosStatus, Tenant


def _tenant(session: Session, name: str) -> int:
    tenant = Tenant(
        name=name, account_name=name, shop_domain=f"{name}.myshopify.com", pos_kind="heartland",
        shopify_secrets="x", pos_secrets="x",
    )
    session.add(tenant)
    session.flush()
    return tenant.id


@pytest.fixture(params=["postgresql", "sqlite"])
def any_session(request: pytest.FixtureRequest) -> Iterator[Session]:
    url = request.getfixturevalue("db_url" if request.param == "postgresql" else "sqlite_url")
    s = get_sessionmaker(url)()
    yield s
    s.rollback()
    s.close()


def pc(pos_id: str, email: str | None = None, phone: str | None = None, status: PosStatus = PosStatus.ACTIVE,
       created_at: datetime | None = None) -> PosCustomer:
    return PosCustomer(pos_id, status, Customer(email=email, phone=phone), created_at=created_at)


def test_rule_9_index_is_keyed_by_normalised_email_and_phone(any_session: Session) -> None:
    tid = _tenant(any_session, "acme")
    written = index_customers(any_session, tid, [pc("17", " Jane@Example.COM ", "(613) 555-1212")], "US")
    assert written == 1
    by_email = lookup(any_session, tid, email_key=email_key("jane@example.com"))
    by_phone = lookup(any_session, tid, phone_key=phone_key("+1 613-555-1212"))
    assert [e.pos_customer_id for e in by_email] == ["17"]
    assert [e.pos_customer_id for e in by_phone] == ["17"]
    assert by_email[0].email_key == "jane@example.com" and by_email[0].phone_key == "6135551212"
    assert lookup(any_session, tid, email_key="other@example.com") == []


def test_rule_9_upsert_refreshes_keys_and_status_of_a_known_customer(any_session: Session) -> None:
    tid = _tenant(any_session, "acme")
    index_customers(any_session, tid, [pc("5", "old@example.com", "6135551212")], "US")
    assert lookup(any_session, tid, email_key="old@example.com")  # loaded into the identity map
    index_customers(any_session, tid, [pc("5", "new@example.com", None, PosStatus.ARCHIVED)], "US")
    assert lookup(any_session, tid, email_key="old@example.com", active_only=False) == []
    entry = lookup(any_session, tid, email_key="new@example.com", active_only=False)[0]
    assert (entry.status, entry.phone_key) == ("archived", None)
    assert any_session.scalar(sa.select(sa.func.count()).select_from(PosIndexEntry)) == 1


def test_rule_11_lookup_is_oldest_first_and_active_only(any_session: Session) -> None:
    tid = _tenant(any_session, "acme")
    index_customers(
        any_session, tid,
        [pc("120", "dup@example.com"), pc("9", "dup@example.com"),
         pc("30", "dup@example.com", status=PosStatus.ARCHIVED)],
        "US",
    )
    assert [e.pos_customer_id for e in lookup(any_session, tid, email_key="dup@example.com")] == ["9", "120"]
    everyone = lookup(any_session, tid, email_key="dup@example.com", active_only=False)
    assert [e.pos_customer_id for e in everyone] == ["9", "30", "120"]


def test_rule_11_uuid_ids_age_by_creation_time_and_never_get_younger(any_session: Session) -> None:
    tid = _tenant(any_session, "acme")
    t0 = datetime(2020, 1, 1, tzinfo=UTC)
    index_customers(any_session, tid, [pc("b-uuid", "x@example.com", created_at=t0),
                                       pc("a-uuid", "x@example.com", created_at=t0 + timedelta(days=1))], "US")
    # A later search result without created_at must not make "b-uuid" look like the newest record.
    index_customers(any_session, tid, [pc("b-uuid", "x@example.com", created_at=None)], "US")
    assert [e.pos_customer_id for e in lookup(any_session, tid, email_key="x@example.com")] == ["b-uuid", "a-uuid"]


def test_index_same_id_twice_in_one_page_keeps_the_last_reading(any_session: Session) -> None:
    tid = _tenant(any_session, "acme")
    index_customers(any_session, tid, [pc("1", "a@example.com"), pc("1", "b@example.com")], "US")
    assert lookup(any_session, tid, email_key="a@example.com") == []
    assert len(lookup(any_session, tid, email_key="b@example.com")) == 1


def test_index_a_page_of_250_in_one_call(any_session: Session) -> None:
    tid = _tenant(any_session, "acme")
    page = [pc(str(i), f"c{i}@example.com", f"613555{i:04d}") for i in range(250)]
    assert index_customers(any_session, tid, page, "US") == 250
    assert index_customers(any_session, tid, page, "US") == 250  # second time: updates, no duplicates
    assert any_session.scalar(sa.select(sa.func.count()).select_from(PosIndexEntry)) == 250
    assert [e.pos_customer_id for e in lookup(any_session, tid, phone_key="6135550249")] == ["249"]


def test_a_page_is_upserted_in_one_statement_on_postgresql(session: Session) -> None:
    """One multi-row INSERT per page (insertmanyvalues), not a statement per customer."""
    tid = _tenant(session, "acme")
    page = [pc(str(i), f"c{i}@example.com") for i in range(250)]
    statements: list[str] = []

    def record(_conn, _cursor, statement, _params, _context, _many) -> None:  # type: ignore[no-untyped-def]
        statements.append(statement)

    engine = session.get_bind()
    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        index_customers(session, tid, page, "US")
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)
    assert len(statements) == 1
    assert "pos_customer_id__249" in statements[0]  # the whole page's rows in that one statement


def test_index_keys_too_long_for_the_column_are_not_stored(any_session: Session) -> None:
    tid = _tenant(any_session, "acme")
    index_customers(any_session, tid, [pc("1", "a@example.com", "1" * 40)], "US")
    assert get_entry(any_session, tid, "1").phone_key is None


def test_lookup_with_both_keys_reads_either_in_one_probe(any_session: Session) -> None:
    """Matching asks for both keys at once and splits the rows by key itself (one round trip, not two)."""
    tid = _tenant(any_session, "acme")
    index_customers(any_session, tid, [pc("1", "a@example.com", "6135551212"), pc("2", "a@example.com"),
                                       pc("3", "b@example.com", "6135551212"), pc("4", "c@example.com")], "US")
    either = lookup(any_session, tid, email_key="a@example.com", phone_key="6135551212")
    assert [(e.pos_customer_id, e.email_key, e.phone_key) for e in either] == [
        ("1", "a@example.com", "6135551212"), ("2", "a@example.com", None), ("3", "b@example.com", "6135551212")]
    assert [e.pos_customer_id for e in lookup(any_session, tid, phone_key="6135551212")] == ["1", "3"]
    with pytest.raises(ValueError):
        lookup(any_session, tid)


def test_tenants_do_not_see_each_others_customers(any_session: Session) -> None:
    a, b = _tenant(any_session, "a"), _tenant(any_session, "b")
    index_customers(any_session, a, [pc("1", "same@example.com")], "US")
    index_customers(any_session, b, [pc("1", "same@example.com", status=PosStatus.ARCHIVED)], "US")
    assert len(lookup(any_session, a, email_key="same@example.com")) == 1
    assert lookup(any_session, b, email_key="same@example.com") == []


def test_rule_12_mark_status_hides_an_archived_customer_until_it_is_active_again(any_session: Session) -> None:
    tid = _tenant(any_session, "acme")
    index_customers(any_session, tid, [pc("7", "a@example.com")], "US")
    assert lookup(any_session, tid, email_key="a@example.com")
    assert mark_status(any_session, tid, "7", PosStatus.ARCHIVED) is True
    assert lookup(any_session, tid, email_key="a@example.com") == []
    assert mark_status(any_session, tid, "7", "active") is True
    assert len(lookup(any_session, tid, email_key="a@example.com")) == 1
    assert mark_status(any_session, tid, "404", PosStatus.ARCHIVED) is False


def whole(pos_id: str, last_name: str, status: PosStatus = PosStatus.ACTIVE) -> PosCustomer:
    return PosCustomer(pos_id, status, Customer(last_name=last_name, email="a@example.com"),
                       vendor_state={"address_id": 3, "custom": {"tier": last_name}})


def test_only_the_import_and_the_change_poll_keep_the_whole_record(any_session: Session) -> None:
    """Issue #14: a reading by id or a write's answer may be older than the poll's, so it refreshes the keys
    but leaves the poll's record; a reading the adapter did not mark whole is not kept at all."""
    tid = _tenant(any_session, "acme")
    index_customers(any_session, tid, [whole("7", "Poll")], "US", whole=True)
    assert indexed_reading(any_session, tid, "7") == whole("7", "Poll")
    assert indexed_reading(any_session, tid, "7").vendor_state == {"address_id": 3, "custom": {"tier": "Poll"}}
    index_customers(any_session, tid, [whole("7", "Slow read")], "US")
    assert indexed_reading(any_session, tid, "7") == whole("7", "Poll")
    index_customers(any_session, tid, [pc("7", "a@example.com")], "US", whole=True)  # a partial row
    assert indexed_reading(any_session, tid, "7") is None


def test_a_status_seen_outside_the_poll_drops_the_whole_record(any_session: Session) -> None:
    tid = _tenant(any_session, "acme")
    index_customers(any_session, tid, [whole("7", "Poll"), whole("8", "Gone", PosStatus.ARCHIVED)], "US",
                    whole=True)
    assert indexed_reading(any_session, tid, "8") is None  # archived: nothing an update may start from
    mark_status(any_session, tid, "7", PosStatus.ARCHIVED)
    mark_status(any_session, tid, "7", PosStatus.ACTIVE)
    assert indexed_reading(any_session, tid, "7") is None


def test_rule_27_forget_deletes_index_rows(any_session: Session) -> None:
    tid = _tenant(any_session, "acme")
    index_customers(any_session, tid, [pc(str(i), f"{i}@example.com") for i in range(3)], "US")
    assert forget(any_session, tid, ["0", "2", "2", "missing"]) == 2
    assert forget(any_session, tid, []) == 0
    assert get_entry(any_session, tid, "0") is None
    assert get_entry(any_session, tid, "1") is not None


@pytest.mark.parametrize(
    ("column", "index"), [("email_key", "ix_pos_index_email"), ("phone_key", "ix_pos_index_phone")]
)
def test_rule_9_lookups_use_the_key_indexes_on_postgresql(session: Session, column: str, index: str) -> None:
    tid = _tenant(session, "acme")
    index_customers(session, tid, [pc(str(i), f"c{i}@example.com", f"613555{i:04d}") for i in range(2000)], "US")
    session.execute(sa.text("ANALYZE pos_index"))
    plan = session.execute(
        sa.text(f"EXPLAIN SELECT * FROM pos_index WHERE tenant_id = :t AND {column} = :k AND status = 'active'"),
        {"t": tid, "k": "c7@example.com" if column == "email_key" else "6135550007"},
    ).scalars().all()
    assert any(index in line for line in plan), plan


def test_rule_33_concurrent_pages_with_the_same_customers_neither_deadlock_nor_duplicate(db_url: str) -> None:
    """Polls and syncs index overlapping customers at once; rows are locked in id order, so no deadlock."""
    import random
    import threading

    maker = get_sessionmaker(db_url)
    with maker() as s:
        tid = _tenant(s, "acme")
        s.commit()
    customers = [pc(str(i), f"c{i}@example.com") for i in range(200)]
    start = threading.Barrier(4)
    errors: list[BaseException] = []

    def worker(seed: int) -> None:
        page = customers[:]
        random.Random(seed).shuffle(page)
        try:
            with maker() as s:
                start.wait()
                for _ in range(3):
                    index_customers(s, tid, page, "US")
                    s.commit()
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    with maker() as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(PosIndexEntry)) == 200
