"""CRM links (SPEC rules 45, 53) and rule 13 for the CRM: a merge moves the contact to the kept customer."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy.orm import Session

from possync.models.crm_links import drop_crm_links, get_crm_link, move_crm_link, save_crm_link
from possync.models.db import get_sessionmaker
from possync.models.tables import CrmLink, Tenant


@pytest.fixture(params=["postgresql", "sqlite"])
def any_session(request: pytest.FixtureRequest) -> Iterator[Session]:
    url = request.getfixturevalue("db_url" if request.param == "postgresql" else "sqlite_url")
    s = get_sessionmaker(url)()
    tenant = Tenant(name="acme", account_name="acme", shop_domain="acme.myshopify.com", pos_kind=None,
                    crm_kind="freshsales", shopify_secrets="x", pos_secrets="x")
    s.add(tenant)
    s.flush()
    s.info["tenant_id"] = tenant.id
    yield s
    s.rollback()
    s.close()


def _count(session: Session) -> int:
    return session.query(CrmLink).count()


def test_saving_twice_keeps_one_row_with_the_last_fingerprint(any_session: Session) -> None:
    tid = any_session.info["tenant_id"]
    save_crm_link(any_session, tid, "1001", "c1", "f1")
    save_crm_link(any_session, tid, "1001", "c1", "f2")
    assert get_crm_link(any_session, tid, "1001").written_fingerprint == "f2" and _count(any_session) == 1


def test_rule_13_a_merge_moves_the_contact_to_the_kept_customer_and_forgets_what_was_written(
    any_session: Session,
) -> None:
    tid = any_session.info["tenant_id"]
    save_crm_link(any_session, tid, "old", "c1", "f1")
    moved = move_crm_link(any_session, tid, "old", "kept")
    assert moved is not None and moved.contact_id == "c1" and moved.written_fingerprint is None
    assert get_crm_link(any_session, tid, "old") is None and get_crm_link(any_session, tid, "kept") is not None
    assert move_crm_link(any_session, tid, "old", "kept").contact_id == "c1"  # running it again changes nothing


def test_rule_13_the_kept_customers_own_contact_wins(any_session: Session) -> None:
    tid = any_session.info["tenant_id"]
    save_crm_link(any_session, tid, "old", "c1", "f1")
    save_crm_link(any_session, tid, "kept", "c2", "f2")
    kept = move_crm_link(any_session, tid, "old", "kept")
    assert kept is not None and (kept.contact_id, kept.written_fingerprint) == ("c2", "f2")
    assert get_crm_link(any_session, tid, "old") is None and _count(any_session) == 1


def test_rule_13_without_a_contact_nothing_moves(any_session: Session) -> None:
    tid = any_session.info["tenant_id"]
    assert move_crm_link(any_session, tid, "old", "kept") is None
    assert drop_crm_links(any_session, tid, "kept") == 0
