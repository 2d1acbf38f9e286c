"""Which destinations one Shopify event goes to (ARCHITECTURE "Destinations"): a job per destination."""

from __future__ import annotations

import pytest

from possync.models.tables import Tenant
from possync.tasks.destinations import destination_of, destinations_for


def tenant(pos: str | None, crm: str | None, dedicated: bool = False) -> Tenant:
    return Tenant(name="acme", pos_kind=pos, crm_kind=crm, settings={"dedicated_queue": dedicated})


@pytest.mark.parametrize(("pos", "crm", "topic", "expected"), [
    ("heartland", None, "orders/create", [("pos", "pos.heartland")]),
    ("heartland", "freshsales", "orders/create", [("pos", "pos.heartland"), ("crm", "crm.freshsales")]),
    (None, "freshsales", "customers/update", [("crm", "crm.freshsales")]),
    ("lightspeed-r", "freshsales", "refunds/create", [("pos", "pos.lightspeed_r")]),  # nothing the CRM holds
    ("lightspeed-r", "freshsales", "orders/updated", [("pos", "pos.lightspeed_r")]),
    (None, "freshsales", "customers_marketing_consent/update", [("crm", "crm.freshsales")]),
    (None, "freshsales", "customers/merge", []),
])
def test_one_job_per_destination_the_topic_concerns(pos, crm, topic: str, expected) -> None:  # type: ignore[no-untyped-def]
    found = destinations_for(tenant(pos, crm), topic)
    assert [(d.name, d.queue(tenant(pos, crm))) for d in found] == expected


def test_a_dedicated_tenant_takes_every_destinations_jobs_on_its_queue() -> None:
    both = tenant("heartland", "freshsales", dedicated=True)
    assert {d.queue(both) for d in destinations_for(both, "customers/create")} == {"tenant.acme"}


def test_the_failed_list_names_each_jobs_destination() -> None:
    assert [destination_of(d) for d in ("shopify_to_pos", "shopify_to_crm", "pos_to_shopify")] == \
        ["pos", "crm", "shopify"]
