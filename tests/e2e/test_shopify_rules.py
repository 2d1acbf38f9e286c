"""Shopify's own customer rules through the whole chain (SPEC rules 50-52): case-insensitive tags, merges
that move links, US military addresses; on each POS kind each rule concerns, with request counts."""

from __future__ import annotations

from typing import Any

import pytest

from possync.adapters.shopify.webhooks import customer_payload
from possync.models import links
from possync.models.db import session_scope
from possync.models.tables import JobStatus, Tenant
from possync.models.tags import Tags
from possync.models.tenants import context_by_name
from possync.tasks.operations import poll_now
from possync.tasks.shopify_duplicates import find_duplicate_groups, merge_customers
from tests.e2e.harness import KINDS, Shop, wait_for
from tests.e2e.test_shopify_to_pos import ADDRESS, finished, jobs_of

HEARTLAND_TAGS = {"heartland_custom_fields": {"tags": "tags"}}
MILITARY = {"address1": "unit 2050  box 4190", "city": "apo", "provinceCode": "Armed Forces Europe", "zip": "09012",
            "countryCode": "DE"}
MILITARY_NORMAL = {"address1": "UNIT 2050 BOX 4190", "address2": None, "city": "APO", "province_code": "AE",
                   "zip": "09012", "country_code": "US", "company": None}


def _make(make_shop, kind: str) -> Shop:  # type: ignore[no-untyped-def]
    return make_shop(kind, settings=HEARTLAND_TAGS if kind == "heartland" else None)


def _pos_record(kind: str, first: str, email: str, tags: list[str]) -> dict[str, Any]:
    record: dict[str, Any] = {"first_name": first, "last_name": "Ng", "email": email}
    if kind == "heartland":
        record["custom"] = {"tags": ", ".join(tags)}
    else:
        record["tags"] = tags
    return record


def _pos_tags(shop: Shop, pos_id: str) -> list[str]:
    """The tags as the POS holds them, spelling and order kept (read from the fake, not through possync)."""
    record = shop.pos.record(pos_id)  # type: ignore[attr-defined]
    if shop.kind == "lightspeed-r":
        held = (record.get("Tags") or {}).get("tag") or []
        return [held] if isinstance(held, str) else list(held)
    text = record["custom_field_4"] if shop.kind == "lightspeed-x" else record["custom"].get("tags")
    return [part.strip() for part in (text or "").split(",") if part.strip()]


@pytest.mark.parametrize("kind", KINDS)
def test_rule_50_a_pos_holding_our_tags_in_another_case_gets_no_tag_write(make_shop, db_url: str,  # type: ignore[no-untyped-def]
                                                                         kind: str) -> None:
    shop = _make(make_shop, kind)
    held = ["SHOPIFY", f"{shop.name}STORE".upper(), "vip"]
    [pos_id] = [str(i) for i in shop.pos.seed([_pos_record(kind, "Tia", "tia@example.com", held)])]
    customer_id = shop.shopify.add_customer("Tia", "Ng", "tia@example.com", None, address=ADDRESS)
    shop.send("customers/update", customer_payload(id=customer_id, email="tia@example.com"))
    [job] = wait_for(lambda: finished(db_url), what="the sync")
    assert job.status == JobStatus.SUCCEEDED.value and job.context["pos_id"] == pos_id, job.last_error
    assert _pos_tags(shop, pos_id) == held  # `Shopify` and the account name are there already, in any case


@pytest.mark.parametrize("kind", KINDS)
def test_rule_50_a_new_customer_gets_our_tags_once(make_shop, db_url: str, kind: str) -> None:  # type: ignore[no-untyped-def]
    shop = _make(make_shop, kind)
    customer_id = shop.shopify.add_customer("Uma", "Ng", "uma@example.com", None, address=ADDRESS)
    shop.send("customers/create", customer_payload(id=customer_id, email="uma@example.com"))
    [job] = wait_for(lambda: finished(db_url), what="the sync")
    assert job.outcome == "created", job.last_error
    assert _pos_tags(shop, job.context["pos_id"]) == ["Shopify", f"{shop.name}store"]


@pytest.mark.parametrize("kind", KINDS)
def test_rule_50_pos_tags_reach_shopify_case_insensitively_within_its_limits(make_shop, db_url: str,  # type: ignore[no-untyped-def]
                                                                            kind: str) -> None:
    shop = _make(make_shop, kind)
    many = [f"t{i}" for i in range(260)]
    tags = ["VIP", "vip", "shopify", f"{shop.name}STORE", "L" * 256, *many]
    shop.pos.seed([_pos_record(kind, "Val", "val@example.com", tags)])
    assert poll_now(shop.name)["jobs"] == 1
    [job] = wait_for(lambda: finished(db_url), what="the push")
    assert job.status == JobStatus.SUCCEEDED.value and job.outcome == "created", job.last_error
    [created] = shop.shopify.customers.values()
    # possync's own tags stay on the POS; `VIP` once; 250 at most, none longer than 255.
    assert Tags(created["tags"]) == ["VIP", *many[:249]] and len(created["tags"]) == 250
    dropped = job.context["tags_dropped"]
    assert {"tag": "L" * 40, "reason": "longer than 255 characters"} in dropped
    assert sum(d["reason"] == "more than 250 tags" for d in dropped) == 11
    # The tags rode in the create: no extra Shopify request.
    assert [op for op in shop.shopify.operations if op.startswith("Customer")] == ["CustomerCreate"]


def _pos_requests(shop: Shop) -> int:
    return len(shop.pos.vendor_requests())


@pytest.mark.parametrize("kind", KINDS)
def test_rule_52_a_military_address_reaches_each_pos_normalised_at_no_extra_request(  # type: ignore[no-untyped-def]
        make_shop, db_url: str, kind: str) -> None:
    shop = _make(make_shop, kind)
    plain = shop.shopify.add_customer("Wes", "Ng", "wes@example.com", None, address=ADDRESS)
    shop.send("customers/create", customer_payload(id=plain, email="wes@example.com"))
    wait_for(lambda: finished(db_url), what="the plain sync")
    plain_requests = _pos_requests(shop)

    soldier = shop.shopify.add_customer("Xia", "Ng", "xia@example.com", None, address=MILITARY)
    shop.send("customers/create", customer_payload(id=soldier, email="xia@example.com"))
    [_, job] = wait_for(lambda: finished(db_url, 2), what="the military sync")
    assert job.outcome == "created" and "warnings" not in job.context, job.last_error
    assert job.context["pos_current"]["billing_address"] == MILITARY_NORMAL
    assert _pos_requests(shop) - plain_requests == plain_requests  # the same requests as a plain address


@pytest.mark.parametrize("kind", KINDS)
def test_rule_52_a_broken_military_address_fails_heartland_and_warns_elsewhere(  # type: ignore[no-untyped-def]
        make_shop, db_url: str, kind: str) -> None:
    shop = _make(make_shop, kind)
    broken = {**MILITARY, "zip": "96201"}  # an AP ZIP in an AE address
    customer_id = shop.shopify.add_customer("Yul", "Ng", "yul@example.com", None, address=broken)
    shop.send("customers/create", customer_payload(id=customer_id, email="yul@example.com"))
    [job] = wait_for(lambda: finished(db_url), what="the sync")
    if kind == "heartland":
        assert job.status == JobStatus.FAILED.value and job.last_error_class == "missing_fields"
        assert "billing address ZIP" in job.last_error
        assert shop.pos.count_requests("POST") == 0  # nothing half-created
    else:
        assert job.status == JobStatus.SUCCEEDED.value and job.outcome == "created", job.last_error
        [warning] = job.context["warnings"]
        assert "billing address ZIP" in warning
        assert job.context["pos_current"]["billing_address"]["city"] == "APO"


def test_rule_51_a_merge_of_two_shopify_customers_of_one_pos_customer_moves_the_link(  # type: ignore[no-untyped-def]
        make_shop, db_url: str, e2e_env: dict[str, str]) -> None:
    shop = make_shop("lightspeed-r")
    shop.shopify.subscribe(f"{shop.receiver_url}/webhooks/shopify", shop.secret, topics=["customers/merge"])
    [pos_id] = [str(i) for i in shop.pos.seed([{"first_name": "Zed", "email": "zed@example.com",
                                                "phone": "613-555-0177"}])]
    online = shop.shopify.add_customer("Zed", None, "zed@example.com", None)
    in_store = shop.shopify.add_customer("Zed", None, None, "+1 613 555 0177", sms_consent="SUBSCRIBED")
    for done, (customer_id, email) in enumerate([(online, "zed@example.com"), (in_store, None)], start=1):
        shop.send("customers/update", customer_payload(id=customer_id, email=email))
        wait_for(lambda done=done: finished(db_url, done), what="the sync")
    assert [j.context["pos_id"] for j in jobs_of(db_url)] == [pos_id, pos_id]

    with session_scope(db_url) as session:
        tenant = context_by_name(session, shop.name, e2e_env["POSSYNC_SECRET_KEY"])
        [group] = find_duplicate_groups(session, tenant)
        assert (group.customers, group.reason, group.mergeable) == ([online, in_store], "same POS customer", True)
        result = merge_customers(session, tenant, in_store, online, poll_every=0.05)
    assert result.status == "COMPLETED" and result.resulting_id == online
    assert result.consent_kept == ["sms"]  # the in-store side's SMS subscription survives the merge
    assert shop.shopify.customers[online]["sms_consent"]["state"] == "SUBSCRIBED"

    def moved() -> bool:
        with session_scope(db_url) as session:
            tenant_id = session.query(Tenant.id).filter(Tenant.name == shop.name).scalar()
            return links.get_link(session, tenant_id, in_store) is None and \
                links.get_link(session, tenant_id, online).pos_customer_id == pos_id

    wait_for(moved, what="the customers/merge webhook to move the links")
