"""Ambiguous and near matches, and the operator's relink."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from possync.models import links
from possync.models.tables import NearMatch, PosIndexEntry
from possync.tasks.console.matches import ambiguous, near_matches, relink
from tests.tasks.console.support import add_job


def _index(db: Session, tenant_id: int, *pos_ids: str) -> None:
    for n, pos_id in enumerate(pos_ids):
        db.add(PosIndexEntry(tenant_id=tenant_id, pos_customer_id=pos_id, age_key=str(n)))
    db.flush()


def test_ambiguous_lists_each_customer_once_with_its_candidates_and_link(db: Session, tenant_id: int) -> None:
    add_job(db, tenant_id, "1001", candidates=["p-1", "p-2"]).ambiguous = True
    newest = add_job(db, tenant_id, "1001", candidates=["p-1", "p-2", "p-3"])
    newest.ambiguous = True
    add_job(db, tenant_id, "1002")
    links.save_link(db, tenant_id, "1001", "p-1")
    db.flush()
    [row] = ambiguous(db)
    assert (row.job_id, row.shopify_id, row.linked_to, row.candidates) == (newest.id, "1001", "p-1",
                                                                           ["p-1", "p-2", "p-3"])


def test_relink_points_the_link_at_the_chosen_pos_customer_and_clears_its_fingerprints(
        db: Session, tenant_id: int) -> None:
    _index(db, tenant_id, "p-1", "p-2")
    links.save_link(db, tenant_id, "1001", "p-1", pos_fingerprint="f", synced_fingerprint="s", contradicted=True)
    assert relink(db, tenant_id, "1001", "p-2") == "p-1"
    link = links.get_link(db, tenant_id, "1001")
    assert (link.pos_customer_id, link.synced_fingerprint, link.contradicted) == ("p-2", None, False)
    assert relink(db, tenant_id, "1002", "p-1") is None  # a first link


def test_relink_refuses_a_pos_customer_the_tenant_does_not_have(db: Session, tenant_id: int,
                                                                other_tenant_id: int) -> None:
    _index(db, other_tenant_id, "p-9")
    with pytest.raises(LookupError, match="p-9"):
        relink(db, tenant_id, "1001", "p-9")
    assert links.get_link(db, tenant_id, "1001") is None


def test_near_matches_by_tenant(db: Session, tenant_id: int, other_tenant_id: int) -> None:
    for t in (tenant_id, other_tenant_id):
        db.add(NearMatch(tenant_id=t, direction="shopify_to_pos", shopify_customer_id="1", pos_customer_id="p",
                         matched_on="phone", differs="email", decision="new"))
    db.flush()
    assert len(near_matches(db)) == 2
    assert [n.tenant_id for n in near_matches(db, tenant_id)] == [tenant_id]


def test_a_customers_near_matches_however_many_newer_the_tenant_has(db: Session, tenant_id: int) -> None:
    """The story's list: before, the tenant's newest page filtered to the customer, which missed older ones."""
    for n in range(3):
        db.add(NearMatch(tenant_id=tenant_id, direction="shopify_to_pos", shopify_customer_id=str(n),
                         pos_customer_id="p", matched_on="phone", differs="email", decision="new"))
    db.flush()
    assert [n.shopify_customer_id for n in near_matches(db, tenant_id, limit=1)] == ["2"]
    assert [n.shopify_customer_id for n in near_matches(db, tenant_id, limit=1, shopify_id="0")] == ["0"]
