"""Tenant settings the chain obeys, end to end: `update_names` (rule 20) and `customer_matching` (rules 6-9)."""

from __future__ import annotations

import json

import pytest

from possync.adapters.shopify.webhooks import customer_payload
from possync.models import links
from possync.models.db import session_scope
from possync.models.tables import JobStatus
from possync.tasks.operations import poll_now
from tests.e2e.harness import Shop, wait_for
from tests.e2e.test_shopify_to_pos import ADDRESS, finished

PUSH_OFF = {"sync_pos_to_shopify": False}  # the POS side's own changes are not under test here


def synced(shop: Shop, db_url: str, customer_id: str, count: int):  # type: ignore[no-untyped-def]
    shop.send("customers/update", customer_payload(id=customer_id))
    job = wait_for(lambda: finished(db_url, count), what=f"sync number {count}")[-1]
    assert job.status == JobStatus.SUCCEEDED.value, job.last_error
    return job


@pytest.mark.parametrize("kind", ["lightspeed-r", "lightspeed-x"])
def test_rule_20_update_names_false_keeps_the_pos_names_but_sends_the_new_email(make_shop, db_url: str,  # type: ignore[no-untyped-def]
                                                                               kind: str) -> None:
    shop = make_shop(kind, settings={**PUSH_OFF, "update_names": False})
    customer_id = shop.shopify.add_customer("Nora", "Lund", "nora@example.com", None, address=ADDRESS)
    created = synced(shop, db_url, customer_id, 1)
    assert created.outcome == "created"
    pos_id = created.context["pos_id"]
    with shop.shopify.lock:  # the merchant renames her and changes her email in Shopify
        shop.shopify._customers[customer_id].update(first_name="Eleanor", email="eleanor@example.com")
    updated = synced(shop, db_url, customer_id, 2)
    assert updated.outcome == "updated" and updated.context["pos_id"] == pos_id
    record = json.dumps(shop.pos.record(pos_id))
    assert "eleanor@example.com" in record and "nora@example.com" not in record  # the email is sent ...
    assert "Nora" in record and "Eleanor" not in record  # ... the name is the store's to keep


@pytest.mark.parametrize(("matching", "expected"), [("phone", "phone"), ("phone,email", "phone"), ("email", "email")])
def test_rules_6_9_customer_matching_decides_which_pos_record_is_linked(make_shop, db_url: str,  # type: ignore[no-untyped-def]
                                                                       matching: str, expected: str) -> None:
    shop = make_shop("lightspeed-r", settings={**PUSH_OFF, "customer_matching": matching})
    by_email, by_phone, _other = (str(i) for i in shop.pos.seed([
        {"first_name": "Ola", "last_name": "Dahl", "email": "ola@example.com", "phone": "613-555-0110"},
        {"first_name": "Ola", "last_name": "Dahl", "phone": "(613) 555-0142"},  # as typed at the till, no email
        {"first_name": "Per", "last_name": "Holm", "email": "per@example.com", "phone": "613-555-0177"},
    ]))
    poll_now(shop.name)
    customer_id = shop.shopify.add_customer("Ola", "Dahl", "ola@example.com", "+1 613-555-0142", address=ADDRESS)
    job = synced(shop, db_url, customer_id, 1)
    wanted = by_phone if expected == "phone" else by_email
    assert job.outcome in ("updated", "unchanged") and job.context["pos_id"] == wanted
    with session_scope(db_url) as session:
        link = links.get_link(session, job.tenant_id, customer_id)
        assert link is not None and link.pos_customer_id == wanted
    assert len(shop.pos.state()["customers"]) == 3  # nobody created
