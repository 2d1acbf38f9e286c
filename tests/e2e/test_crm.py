"""The CRM destination end to end (SPEC rules 39-45): signed webhooks in, Freshsales contacts out, through a
real worker on real Redis and PostgreSQL, with the Shopify and Freshsales fakes as the outside world."""

from __future__ import annotations

import concurrent.futures
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests
from sqlalchemy import select

from possync.adapters.freshsales.fake import FakeFreshsales
from possync.adapters.shopify.fake import FakeShopify
from possync.adapters.shopify.webhooks import (
    customer_payload,
    customer_redact_payload,
    email_consent_payload,
    order_payload,
    send_webhook,
)
from possync.models.crm_links import get_crm_link
from possync.models.db import session_scope
from possync.models.tables import CrmLink, JobStatus, SyncJob
from tests.e2e.harness import SHOPIFY_TOKEN, ServedApp, WorkerProcess, add_tenant, make_pos_fake, tenant_file, wait_for

CRM_KEY = "fs-e2e-key-0123456789"
ADDRESS = {"address1": "150 Elgin St", "city": "Ottawa", "provinceCode": "ON", "zip": "K2P 1L4", "countryCode": "CA"}


@dataclass
class CrmShop:
    name: str
    domain: str
    secret: str
    shopify: FakeShopify
    crm: FakeFreshsales
    pos: Any
    receiver_url: str

    def send(self, topic: str, payload: dict[str, Any]) -> requests.Response:
        return send_webhook(f"{self.receiver_url}/webhooks/shopify", topic, payload, self.secret, self.domain)

    def upserts(self) -> int:
        return self.crm.count_requests("POST", "/contacts/upsert")


@pytest.fixture
def make_crm_shop(db_url: str, e2e_env: dict[str, str], receiver: ServedApp,
                  worker_process: WorkerProcess) -> Iterator[Callable[..., CrmShop]]:
    started: list[Any] = []

    def make(*, pos_kind: str | None = None, with_setup: bool = True, allow_field_create: bool = True,
             crm: dict[str, Any] | None = None) -> CrmShop:
        name = f"c{uuid.uuid4().hex[:8]}"
        shopify = FakeShopify(SHOPIFY_TOKEN, shop_domain=f"{name}.myshopify.com", maximum_available=None)
        fake = FakeFreshsales(CRM_KEY, with_setup=with_setup, allow_field_create=allow_field_create)
        pos = make_pos_fake(pos_kind) if pos_kind else None
        for server in (shopify, fake, pos):
            if server is not None:
                server.start()
                started.append(server)
        secret = uuid.uuid4().hex
        data = tenant_file(name, pos_kind or "heartland", shopify.url, pos or fake, secret)
        if pos is None:
            data["pos"] = None
        data["crm"] = {"kind": "freshsales", "base_url": fake.url, "api_key": CRM_KEY, **(crm or {})}
        add_tenant(db_url, e2e_env["POSSYNC_SECRET_KEY"], data)
        if pos_kind:  # the POS import is not what these tests are about
            from possync.models.tables import PosImport, Tenant

            with session_scope(db_url) as session:
                tenant = session.scalar(select(Tenant).where(Tenant.name == name))
                session.merge(PosImport(tenant_id=tenant.id, status="complete", pages_read=0, customers_read=0))
        return CrmShop(name, f"{name}.myshopify.com", secret, shopify, fake, pos, receiver.url)

    yield make
    for server in started:
        server.stop()


def jobs_of(db_url: str, direction: str | None = None) -> list[SyncJob]:
    with session_scope(db_url) as session:
        query = select(SyncJob).order_by(SyncJob.id)
        if direction:
            query = query.where(SyncJob.direction == direction)
        return list(session.scalars(query))


def settled(db_url: str, count: int, direction: str | None = "shopify_to_crm") -> list[SyncJob] | None:
    done = [j for j in jobs_of(db_url, direction) if j.status in (JobStatus.SUCCEEDED.value, JobStatus.FAILED.value)]
    return done if len(done) >= count else None


def sign_up(shop: CrmShop, db_url: str, first: str, email: str) -> SyncJob:
    """A new Shopify customer's `customers/create`; returns its CRM job, which must have succeeded."""
    customer_id = shop.shopify.add_customer(first, "Doe", email, None)
    shop.send("customers/create", customer_payload(id=customer_id, email=email))
    [job] = wait_for(lambda: settled(db_url, 1), what="the CRM job")
    assert job.status == JobStatus.SUCCEEDED.value, job.last_error
    return job


def test_a_new_customer_becomes_one_contact_with_every_field(make_crm_shop, db_url: str) -> None:  # type: ignore[no-untyped-def]
    """Rules 41-43 on a CRM-only tenant (`pos: null`): no POS job at all."""
    shop = make_crm_shop()
    customer_id = shop.shopify.add_customer("Ana", "Lima", "ana@example.com", "(613) 555-1212", address=ADDRESS,
                                            email_consent="SUBSCRIBED", state="INVITED", amount_spent="0.00",
                                            tax_exempt=True)
    assert shop.send("customers/create", customer_payload(id=customer_id, email="ana@example.com")).status_code == 200
    [job] = wait_for(lambda: settled(db_url, 1), what="the CRM job")
    assert job.status == JobStatus.SUCCEEDED.value and job.outcome == "created", job.last_error
    assert jobs_of(db_url, "shopify_to_pos") == []
    contact = shop.crm.contact_by_email("ana@example.com")
    assert contact is not None
    assert (contact["first_name"], contact["last_name"], contact["mobile_number"]) == ("Ana", "Lima", "+16135551212")
    assert (contact["city"], contact["country"], contact["zipcode"]) == ("Ottawa", "CA", "K2P 1L4")
    assert contact["external_id"] == customer_id and contact["subscription_status"] == "subscribed"
    assert contact["custom_field"] == {"cf_ltv": "0.00 USD", "cf_tax_exempt_customer": "Yes",
                                       "cf_ecommerce_shop_name": f"{shop.name}store", "cf_total_orders": 0}
    statuses = {s["id"]: s["name"] for s in shop.crm.statuses}
    assert statuses[contact["contact_status_id"]] == "Invited"
    sources = {s["id"]: s["name"] for s in shop.crm.lead_sources}
    assert sources[contact["lead_source_id"]] == "Shopify"


def test_an_order_makes_the_contact_paying_and_an_unchanged_one_is_not_written(make_crm_shop, db_url: str) -> None:  # type: ignore[no-untyped-def]
    """Rules 42 and 45: one upsert for a changed contact, none for an unchanged one."""
    shop = make_crm_shop()
    customer_id = shop.shopify.add_customer("Bo", "Berg", "bo@example.com", None, address=ADDRESS)
    payload = customer_payload(id=customer_id, email="bo@example.com")
    shop.send("customers/create", payload)
    wait_for(lambda: settled(db_url, 1), what="first job")
    shop.shopify.add_order(customer_id)
    shop.send("orders/create", order_payload(customer=payload))
    wait_for(lambda: settled(db_url, 2), what="order job")
    before = shop.upserts()
    shop.send("customers/update", payload)  # nothing the CRM holds changed
    jobs = wait_for(lambda: settled(db_url, 3), what="repeat job")
    assert [j.outcome for j in jobs] == ["created", "updated", "unchanged"], [j.last_error for j in jobs]
    assert shop.upserts() == before == 2
    contact = shop.crm.contact_by_email("bo@example.com")
    assert {s["id"]: s["name"] for s in shop.crm.statuses}[contact["contact_status_id"]] == "Paying"
    assert contact["custom_field"]["cf_total_orders"] == 1
    # The connect check ran once for the tenant, not once a job.
    assert shop.crm.count_requests("GET", "/settings/contacts/fields") == 1


def test_empty_shopify_values_never_blank_crm_values(make_crm_shop, db_url: str) -> None:  # type: ignore[no-untyped-def]
    """Rule 45: a contact's city kept in the CRM survives a Shopify customer without an address."""
    shop = make_crm_shop()
    shop.crm.seed([{"emails": "cy@example.com", "city": "Montreal", "job_title": "Chef"}])
    customer_id = shop.shopify.add_customer("Cy", None, "cy@example.com", None)
    shop.send("customers/update", customer_payload(id=customer_id, email="cy@example.com"))
    [job] = wait_for(lambda: settled(db_url, 1), what="the CRM job")
    assert job.outcome == "updated", job.last_error
    contact = shop.crm.contact_by_email("cy@example.com")
    assert (contact["city"], contact["job_title"], contact["first_name"]) == ("Montreal", "Chef", "Cy")
    assert "last_name" not in contact and len(shop.crm.state()["contacts"]) == 1


def test_consent_topic_updates_the_subscription(make_crm_shop, db_url: str) -> None:  # type: ignore[no-untyped-def]
    """Rule 43: the email consent topic keeps the contact's email subscription current."""
    shop = make_crm_shop()
    customer_id = shop.shopify.add_customer("Di", "Eko", "di@example.com", None, email_consent="SUBSCRIBED")
    shop.send("customers/create", customer_payload(id=customer_id, email="di@example.com"))
    wait_for(lambda: settled(db_url, 1), what="first job")
    with shop.shopify.lock:
        shop.shopify._customers[customer_id]["email_consent"]["state"] = "UNSUBSCRIBED"
    shop.send("customers_email_marketing_consent/update",
              email_consent_payload(customer_id, "di@example.com", "unsubscribed"))
    wait_for(lambda: settled(db_url, 2), what="consent job")
    assert shop.crm.contact_by_email("di@example.com")["subscription_status"] == "unsubscribed"


def test_what_the_crm_lacks_is_named_and_the_rest_still_syncs(make_crm_shop, db_url: str) -> None:  # type: ignore[no-untyped-def]
    """Rule 39: fields cannot be created through this CRM's API: status and the job name them."""
    from possync.tasks.operations import status

    shop = make_crm_shop(with_setup=False, allow_field_create=False)
    job = sign_up(shop, db_url, "Ed", "ed@example.com")
    assert "Total order count (number)" in job.context["crm_missing"]
    assert "Customer (lifecycle stage)" in job.context["crm_missing"]
    contact = shop.crm.contact_by_email("ed@example.com")
    assert contact["first_name"] == "Ed" and "custom_field" not in contact
    [row] = [r for r in status() if r["tenant"] == shop.name]
    assert "E-commerce store name (text)" in row["crm"]["missing"]


def test_fields_are_created_where_the_api_allows(make_crm_shop, db_url: str) -> None:  # type: ignore[no-untyped-def]
    shop = make_crm_shop(with_setup=False, allow_field_create=True)
    sign_up(shop, db_url, "Fa", "fa@example.com")
    assert shop.crm.contact_by_email("fa@example.com")["custom_field"]["cf_total_order_count"] == 0


def test_two_concurrent_events_for_a_new_customer_make_one_contact(make_crm_shop, db_url: str) -> None:  # type: ignore[no-untyped-def]
    """Rule 44 (rule 33 for CRM jobs)."""
    shop = make_crm_shop()
    customer_id = shop.shopify.add_customer("Gu", "Ha", "gu@example.com", None)
    customer = customer_payload(id=customer_id, email="gu@example.com")
    sends = [("customers/create", customer), ("orders/create", order_payload(customer=customer))] * 3
    with concurrent.futures.ThreadPoolExecutor(6) as pool:
        list(pool.map(lambda s: shop.send(*s), sends))
    jobs = wait_for(lambda: settled(db_url, 6), timeout=60, what="six CRM jobs")
    assert all(j.status == JobStatus.SUCCEEDED.value for j in jobs), [j.last_error for j in jobs]
    assert len(shop.crm.state()["contacts"]) == 1
    with session_scope(db_url) as session:
        assert len(list(session.scalars(select(CrmLink)))) == 1


def test_a_429_is_waited_out_and_never_touches_the_pos_job(make_crm_shop, db_url: str) -> None:  # type: ignore[no-untyped-def]
    """Rule 44 and the destination shape: one event, one job per destination, each on its own."""
    shop = make_crm_shop(pos_kind="lightspeed-r")
    shop.crm.inject(429, count=2, headers={"Retry-After": "1"})
    customer_id = shop.shopify.add_customer("Io", "Ju", "io@example.com", "+1 613-555-0104", address=ADDRESS)
    shop.send("customers/create", customer_payload(id=customer_id, email="io@example.com"))
    [crm_job] = wait_for(lambda: settled(db_url, 1), timeout=40, what="the CRM job")
    [pos_job] = wait_for(lambda: settled(db_url, 1, "shopify_to_pos"), what="the POS job")
    assert crm_job.status == pos_job.status == JobStatus.SUCCEEDED.value, (crm_job.last_error, pos_job.last_error)
    assert crm_job.event_id == pos_job.event_id and crm_job.attempts == 0  # a wait is not a failed attempt
    assert "io@example.com" in str(shop.pos.state()).lower() and shop.crm.contact_by_email("io@example.com")
    with session_scope(db_url) as session:
        job = session.get_one(SyncJob, crm_job.id)
        assert [a.outcome for a in job.attempts_log].count("rate_limited") >= 1


def test_refused_email_and_revoked_key_go_to_the_failed_list_and_nothing_else_stops(  # type: ignore[no-untyped-def]
        make_crm_shop, db_url: str) -> None:
    from possync.tasks.operations import replay

    shop = make_crm_shop()
    bad = shop.shopify.add_customer("Ka", "Lo", "ka@invalid", None)
    good = shop.shopify.add_customer("Mi", "No", "mi@example.com", None)
    shop.send("customers/create", customer_payload(id=bad, email="ka@invalid"))
    shop.send("customers/create", customer_payload(id=good, email="mi@example.com"))
    jobs = wait_for(lambda: settled(db_url, 2), what="two CRM jobs")
    failed = [j for j in jobs if j.status == JobStatus.FAILED.value]
    assert len(failed) == 1 and shop.crm.contact_by_email("mi@example.com")
    assert failed[0].last_error.startswith(f"tenant {shop.name}, field emails:"), failed[0].last_error
    assert "Invalid email" in failed[0].last_error and "ka@invalid" not in failed[0].last_error
    assert failed[0].last_error_class == "crm_refused"
    shop.crm.revoke()
    other = shop.shopify.add_customer("Ol", "Pe", "ol@example.com", None, state="DISABLED")
    shop.send("customers/update", customer_payload(id=other, email="ol@example.com"))
    jobs = wait_for(lambda: settled(db_url, 3), what="the job after the revoke")
    assert jobs[-1].status == JobStatus.FAILED.value and "field crm.api_key" in jobs[-1].last_error
    shop.crm.api_key = CRM_KEY  # the merchant pastes a working key; replay sends it
    replay([jobs[-1].id])
    wait_for(lambda: jobs_of(db_url, "shopify_to_crm")[-1].status == JobStatus.SUCCEEDED.value, what="the replay")
    contact = shop.crm.contact_by_email("ol@example.com")
    assert {s["id"]: s["name"] for s in shop.crm.statuses}[contact["contact_status_id"]] == "Deactivated"


def test_redact_erases_possyncs_copy_and_export_lists_the_contact(make_crm_shop, db_url: str) -> None:  # type: ignore[no-untyped-def]
    """Rule 53."""
    from possync.models.tables import Tenant
    from possync.tasks.privacy import export_customer

    shop = make_crm_shop()
    customer_id = shop.shopify.add_customer("Qu", "Ro", "qu@example.com", None)
    shop.send("customers/create", customer_payload(id=customer_id, email="qu@example.com"))
    wait_for(lambda: settled(db_url, 1), what="the CRM job")
    with session_scope(db_url) as session:
        tenant = session.scalar(select(Tenant).where(Tenant.name == shop.name))
        exported = export_customer(session, tenant.id, customer_id)
        assert exported["crm"]["contact_id"] == str(shop.crm.contact_by_email("qu@example.com")["id"])
        tenant_id = tenant.id
    shop.send("customers/redact", customer_redact_payload(customer_id=customer_id, email="qu@example.com",
                                                          shop_domain=shop.domain))
    wait_for(lambda: _no_crm_link(db_url, tenant_id, customer_id), what="the redact")
    assert shop.crm.contact_by_email("qu@example.com")  # the merchant's record stays theirs


def _no_crm_link(db_url: str, tenant_id: int, customer_id: str) -> bool:
    with session_scope(db_url) as session:
        return get_crm_link(session, tenant_id, customer_id) is None
