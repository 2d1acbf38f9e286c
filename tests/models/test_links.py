"""The link table: one link per Shopify customer, merges, concurrent saves (SPEC rules 12, 13, 33)."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from possync.models.db import get_sessionmaker
from possync.models.links import (
    drop_link,
    drop_links_to_pos,
    get_link,
    get_link_by_pos,
    links_for_pos,
    move_links,
    save_link,
    set_fingerprints,
)
from possync.models.tables import CustomerLink, PosStatus, Tenant


def _tenant(session: Session, name: str = "acme") -> int:
    tenant = Tenant(
        name=name, account_name=name, shop_domain=f"{name}.myshopify.com", pos_kind="lightspeed-r",
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


def _count(session: Session) -> int:
    return session.scalar(sa.select(sa.func.count()).select_from(CustomerLink)) or 0


def test_rule_12_save_and_get_a_link_both_ways(any_session: Session) -> None:
    tid = _tenant(any_session)
    save_link(any_session, tid, "1001", "55", pos_fingerprint="p1", shopify_fingerprint="s1")
    link = get_link(any_session, tid, "1001")
    assert (link.shopify_customer_id, link.pos_customer_id, link.pos_status) == ("1001", "55", "active")
    assert get_link(any_session, tid, "1001").pos_customer_id == "55"
    assert get_link_by_pos(any_session, tid, "55").shopify_customer_id == "1001"
    assert get_link(any_session, tid, "404") is None
    assert get_link_by_pos(any_session, tid, "404") is None


def test_save_link_twice_updates_one_row_and_keeps_unspecified_fingerprints(any_session: Session) -> None:
    tid = _tenant(any_session)
    save_link(any_session, tid, "1001", "55", pos_fingerprint="p1", shopify_fingerprint="s1")
    save_link(any_session, tid, "1001", "55", pos_fingerprint="p2")
    link = get_link(any_session, tid, "1001")
    assert (link.pos_fingerprint, link.shopify_fingerprint) == ("p2", "s1")
    assert _count(any_session) == 1


def test_rule_12_relinking_to_another_pos_customer_clears_old_fingerprints(any_session: Session) -> None:
    tid = _tenant(any_session)
    save_link(any_session, tid, "1001", "55", pos_fingerprint="p1", shopify_fingerprint="s1")
    save_link(any_session, tid, "1001", "77", pos_fingerprint="p9")
    link = get_link(any_session, tid, "1001")
    assert (link.pos_customer_id, link.pos_fingerprint, link.shopify_fingerprint) == ("77", "p9", None)
    assert get_link_by_pos(any_session, tid, "55") is None


def test_rule_12_drop_link_then_match_again(any_session: Session) -> None:
    tid = _tenant(any_session)
    save_link(any_session, tid, "1001", "55")
    assert drop_link(any_session, tid, "1001") is True
    assert get_link(any_session, tid, "1001") is None
    assert drop_link(any_session, tid, "1001") is False


def test_one_pos_customer_linked_from_two_shopify_customers_oldest_first(any_session: Session) -> None:
    tid = _tenant(any_session)
    save_link(any_session, tid, "2", "55")
    save_link(any_session, tid, "1", "55")
    assert [link.shopify_customer_id for link in links_for_pos(any_session, tid, "55")] == ["2", "1"]
    assert get_link_by_pos(any_session, tid, "55").shopify_customer_id == "2"
    assert drop_links_to_pos(any_session, tid, "55") == 2
    assert _count(any_session) == 0


def test_rule_5_set_fingerprints_on_an_existing_link(any_session: Session) -> None:
    tid = _tenant(any_session)
    assert set_fingerprints(any_session, tid, "1001", pos_fingerprint="p") is False
    save_link(any_session, tid, "1001", "55", pos_fingerprint="p1")
    assert set_fingerprints(any_session, tid, "1001", shopify_fingerprint="s2") is True
    link = get_link(any_session, tid, "1001")
    assert (link.pos_fingerprint, link.shopify_fingerprint) == ("p1", "s2")


def test_rule_13_merge_moves_the_link_to_the_kept_customer(any_session: Session) -> None:
    tid = _tenant(any_session)
    save_link(any_session, tid, "old", "55", pos_fingerprint="p", shopify_fingerprint="s")
    kept = move_links(any_session, tid, "old", "kept")
    assert kept is not None and kept.shopify_customer_id == "kept" and kept.pos_customer_id == "55"
    assert kept.pos_fingerprint == "p" and kept.shopify_fingerprint is None
    assert get_link(any_session, tid, "old") is None
    again = move_links(any_session, tid, "old", "kept")  # idempotent
    assert again is not None and again.pos_customer_id == "55"
    assert _count(any_session) == 1


def test_rule_13_merge_keeps_the_kept_customers_own_link(any_session: Session) -> None:
    tid = _tenant(any_session)
    save_link(any_session, tid, "old", "55")
    save_link(any_session, tid, "kept", "66")
    kept = move_links(any_session, tid, "old", "kept")
    assert kept is not None and kept.pos_customer_id == "66"
    assert get_link(any_session, tid, "old") is None
    assert _count(any_session) == 1


def test_rule_13_merge_without_links_is_a_no_op(any_session: Session) -> None:
    tid = _tenant(any_session)
    assert move_links(any_session, tid, "old", "kept") is None
    save_link(any_session, tid, "kept", "66")
    assert move_links(any_session, tid, "kept", "kept").pos_customer_id == "66"
    assert move_links(any_session, tid, "none", "kept").pos_customer_id == "66"


def test_save_link_reactivates_a_link_marked_archived(any_session: Session) -> None:
    tid = _tenant(any_session)
    save_link(any_session, tid, "1001", "55")
    get_link(any_session, tid, "1001").pos_status = PosStatus.ARCHIVED.value
    any_session.flush()
    save_link(any_session, tid, "1001", "55")
    assert get_link(any_session, tid, "1001").pos_status == "active"


def test_rule_33_concurrent_saves_for_one_shopify_customer_leave_one_link(db_url: str) -> None:
    """Eight transactions race to link the same Shopify customer; the unique constraint keeps one row."""
    maker = get_sessionmaker(db_url)
    with maker() as s:
        tid = _tenant(s)
        s.commit()
    start = threading.Barrier(8)
    errors: list[BaseException] = []
    results: list[str] = []

    def worker(n: int) -> None:
        try:
            with maker() as s:
                start.wait()
                save_link(s, tid, "1001", "55", pos_fingerprint=f"p{n}")
                s.commit()
                results.append(get_link(s, tid, "1001").pos_customer_id)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    assert results == ["55"] * 8
    with maker() as s:
        assert _count(s) == 1


def test_rule_33_a_save_that_meets_a_committed_row_updates_it(db_url: str) -> None:
    """Another session's link is committed first: ours lands on that row, and its old fingerprints go."""
    maker = get_sessionmaker(db_url)
    with maker() as a, maker() as b:
        tid = _tenant(a)
        a.commit()
        save_link(a, tid, "1001", "55", shopify_fingerprint="s-a")
        a.commit()
        save_link(b, tid, "1001", "77", pos_fingerprint="p-b")
        b.commit()
        link = get_link(b, tid, "1001")
        assert (link.pos_customer_id, link.pos_fingerprint, link.shopify_fingerprint) == ("77", "p-b", None)
        assert _count(b) == 1


def test_rule_13_merge_racing_a_new_link_for_the_kept_customer_keeps_that_link(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import possync.models.links as links_module

    maker = get_sessionmaker(db_url)
    with maker() as s:
        tid = _tenant(s)
        save_link(s, tid, "old", "55")
        save_link(s, tid, "kept", "66")
        s.commit()
        real_get = links_module.get_link
        seen: list[str] = []

        def kept_looks_unlinked_once(session, tenant_id, shopify_id):  # type: ignore[no-untyped-def]
            if shopify_id == "kept" and "kept" not in seen:
                seen.append("kept")
                return None
            return real_get(session, tenant_id, shopify_id)

        monkeypatch.setattr(links_module, "get_link", kept_looks_unlinked_once)
        kept = move_links(s, tid, "old", "kept")
        s.commit()
        assert kept is not None and kept.pos_customer_id == "66"
        assert _count(s) == 1
