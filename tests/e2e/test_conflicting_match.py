"""SPEC rule 10 as amended, end to end on each POS: one person's record never goes to another.

The probe of the security review: a Shopify guest {Mal Lory, attacker@evil.test, +16135551212} orders
while the POS holds {Vic Tim, victim@example.com, (613) 555-1212}; and the reverse, an in-store record
whose phone is another Shopify account's. Each `conflicting_match` setting, both directions.
"""

from __future__ import annotations

import json

import pytest

from possync.adapters.shopify.webhooks import customer_payload
from possync.models import links
from possync.models.db import session_scope
from possync.models.near_matches import near_matches
from possync.models.tables import JobStatus, SyncJob
from possync.models.tenants import get_tenant
from possync.tasks.operations import poll_now, status
from tests.e2e.harness import KINDS, Shop, wait_for
from tests.e2e.test_shopify_to_pos import ADDRESS, jobs_of

VICTIM = {"first_name": "Vic", "last_name": "Tim", "email": "victim@example.com", "phone": "(613) 555-1212"}
SETTINGS = ("new", "update", "link")


def _done(db_url: str, direction: str) -> list[SyncJob] | None:
    done = [j for j in jobs_of(db_url) if j.direction == direction
            and j.status in (JobStatus.SUCCEEDED.value, JobStatus.FAILED.value)]
    return done or None


def _pos_record(shop: Shop, pos_id: str) -> str:
    return json.dumps(shop.pos.record(pos_id))  # type: ignore[attr-defined]


def _near_matches(db_url: str, shop: Shop) -> list[tuple[str, str, str, str]]:
    with session_scope(db_url) as session:
        tenant = get_tenant(session, shop.name)
        assert tenant is not None
        return [(m.direction, m.pos_customer_id, m.matched_on, m.decision) for m in near_matches(session, tenant.id)]


@pytest.mark.parametrize("setting", SETTINGS)
@pytest.mark.parametrize("kind", KINDS)
def test_shopify_to_pos_a_phone_match_with_another_email(make_shop, db_url: str, kind: str,  # type: ignore[no-untyped-def]
                                                         setting: str) -> None:
    shop = make_shop(kind, settings={"conflicting_match": setting, "sync_pos_to_shopify": False})
    [victim] = shop.pos.seed([VICTIM])
    poll_now(shop.name)  # the victim is in possync's index, as after an import
    mal = shop.shopify.add_customer("Mal", "Lory", "attacker@evil.test", "+16135551212", address=ADDRESS)
    shop.send("customers/update", customer_payload(id=mal, email="attacker@evil.test"))
    [job] = wait_for(lambda: _done(db_url, "shopify_to_pos"), what="the sync of the stranger")
    assert job.status == JobStatus.SUCCEEDED.value, job.last_error
    assert job.context["near_match"] == {"pos_id": str(victim), "matched_on": "phone", "differs": "email",
                                         "decision": setting}
    assert _near_matches(db_url, shop) == [("shopify_to_pos", str(victim), "phone", setting)]
    [row] = [r for r in status() if r["tenant"] == shop.name]
    assert row["near_matches"] == 1
    record = _pos_record(shop, str(victim))
    if setting == "new":
        assert job.outcome == "created" and job.context["pos_id"] != str(victim)
        assert "attacker@evil.test" in _pos_record(shop, job.context["pos_id"])
    else:
        assert job.context["pos_id"] == str(victim)
    if setting == "update":  # Mortar's behaviour, chosen by the merchant: the record is overwritten
        assert "attacker@evil.test" in record and "Mal" in record
    else:
        assert "attacker@evil.test" not in record and "Mal" not in record and "victim@example.com" in record
    with session_scope(db_url) as session:
        tenant = get_tenant(session, shop.name)
        assert tenant is not None
        link = links.get_link(session, tenant.id, mal)
        assert link is not None and bool(link.contradicted) == (setting == "link")


def test_link_never_pushes_the_other_persons_record_to_shopify(make_shop, db_url: str) -> None:  # type: ignore[no-untyped-def]
    shop = make_shop("lightspeed-x", settings={"conflicting_match": "link", "sync_pos_to_shopify": False})
    [victim] = shop.pos.seed([VICTIM])
    poll_now(shop.name)
    mal = shop.shopify.add_customer("Mal", "Lory", "attacker@evil.test", "+16135551212", address=ADDRESS)
    shop.send("customers/update", customer_payload(id=mal, email="attacker@evil.test"))
    wait_for(lambda: _done(db_url, "shopify_to_pos"), what="the linked sync")
    with session_scope(db_url) as session:
        tenant = get_tenant(session, shop.name)
        assert tenant is not None
        tenant.settings = {**tenant.settings, "sync_pos_to_shopify": True}
    shop.pos.edit(str(victim), last_name="Timms")  # type: ignore[attr-defined]  # staff edit the victim in store
    assert poll_now(shop.name)["jobs"] == 1
    [push] = wait_for(lambda: _done(db_url, "pos_to_shopify"), what="the push of the victim's record")
    assert push.status == JobStatus.SUCCEEDED.value and push.outcome == "near_match", push.last_error
    mal_now = shop.shopify._customers[mal]
    assert (mal_now["email"], mal_now["last_name"]) == ("attacker@evil.test", "Lory")


@pytest.mark.parametrize("setting", SETTINGS)
@pytest.mark.parametrize("kind", KINDS)
def test_pos_to_shopify_a_phone_match_with_another_email(make_shop, db_url: str, kind: str,  # type: ignore[no-untyped-def]
                                                         setting: str) -> None:
    shop = make_shop(kind, settings={"conflicting_match": setting})
    vic = shop.shopify.add_customer("Vic", "Tim", "victim@example.com", "+16135551212")
    [mal] = shop.pos.seed([{"first_name": "Mal", "last_name": "Lory", "email": "attacker@evil.test",
                            "phone": "(613) 555-1212"}])
    assert poll_now(shop.name)["jobs"] == 1
    [push] = wait_for(lambda: _done(db_url, "pos_to_shopify"), what="the push of the in-store record")
    assert push.status == JobStatus.SUCCEEDED.value, push.last_error
    assert push.context["near_match"]["shopify_customer_id"] == vic
    assert _near_matches(db_url, shop) == [("pos_to_shopify", str(mal), "phone", setting)]
    victim_now = shop.shopify._customers[vic]
    others = [c for c in shop.shopify._customers.values() if c["id"] != vic]
    if setting == "update":
        assert push.outcome == "updated" and victim_now["email"] == "attacker@evil.test" and not others
        return
    assert (victim_now["email"], victim_now["first_name"], victim_now["phone"]) == (
        "victim@example.com", "Vic", "+16135551212")
    if setting == "new":  # a Shopify customer of its own, without the phone Shopify holds on another account
        assert push.outcome == "created"
        [created] = others
        assert (created["email"], created["phone"]) == ("attacker@evil.test", None)
    else:
        assert push.outcome == "near_match" and not others
