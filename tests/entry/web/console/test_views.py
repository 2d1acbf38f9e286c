"""The console's pages and actions through the receiver app (real PostgreSQL and Redis)."""

from __future__ import annotations

from flask.testing import FlaskClient
from sqlalchemy import select

from possync.models import links
from possync.models.db import session_scope
from possync.models.tables import ConsoleAction, NearMatch, PosIndexEntry, SyncJob
from possync.tasks.jobs import SHOPIFY_TO_CRM_STEPS
from tests.entry.web.console.conftest import auth, csrf_of
from tests.tasks.console.support import add_job


def _page(console: FlaskClient, path: str) -> str:
    return console.get(path, headers=auth()).get_data(as_text=True)


def _token(console: FlaskClient, page: str = "/console/tenants") -> str:
    return csrf_of(_page(console, page))


def _actions(db_url: str) -> list[tuple[str, str, str | None]]:
    with session_scope(db_url) as session:
        rows = session.scalars(select(ConsoleAction).order_by(ConsoleAction.id))
        return [(a.actor, a.action, a.customer) for a in rows]


def _job(db_url: str, job_id: int) -> SyncJob:
    with session_scope(db_url) as session:
        return session.get_one(SyncJob, job_id)


def test_the_tenants_page_refreshes_itself_and_shows_each_tenant(console: FlaskClient, db_url: str,
                                                                 tenant_id: int) -> None:
    with session_scope(db_url) as session:
        add_job(session, tenant_id, "1", status="failed", error_class="missing_fields")
    html = _page(console, "/console/tenants")
    assert 'http-equiv="refresh"' in html
    assert "acme" in html and "lightspeed-r" in html and "/console/failed?tenant=acme" in html


def test_replay_one_a_selection_and_all_shown_with_the_result(console: FlaskClient, db_url: str,
                                                              tenant_id: int) -> None:
    with session_scope(db_url) as session:
        ids = [add_job(session, tenant_id, str(n), status="failed", error_class="missing_fields").id for n in range(4)]
        done = add_job(session, tenant_id, "9").id
    html = _page(console, "/console/failed?error_class=missing_fields")
    assert all(f'id="job-{i}"' in html for i in ids) and "Fix the customer in Shopify" in html
    token = csrf_of(html)
    # A row's own button replays that row only, even with others ticked.
    page = console.post("/console/failed/replay", headers=auth(), follow_redirects=True,
                        data={"csrf_token": token, "only": ids[0], "job_id": [ids[1]]}).get_data(as_text=True)
    assert f"replay of job {ids[0]}: replayed 1, skipped 0" in page
    assert _job(db_url, ids[0]).status == "pending" and _job(db_url, ids[1]).status == "failed"
    page = console.post("/console/failed/replay", headers=auth(), follow_redirects=True,
                        data={"csrf_token": token, "job_id": [ids[1], done]}).get_data(as_text=True)
    assert "replayed 1, skipped 1 (not failed)" in page
    page = console.post("/console/failed/replay-all", headers=auth(), follow_redirects=True,
                        data={"csrf_token": token, "tenant": "acme"}).get_data(as_text=True)
    assert "replay of every failed sync shown: replayed 2" in page
    assert {_job(db_url, i).status for i in ids} == {"pending"}
    assert "no failed syncs" in page
    assert [a for a in _actions(db_url) if a[2] is None] == [("ops", "replay", None)] * 3
    assert ("ops", "replay", "0") in _actions(db_url)  # on the customer's story too


def test_find_by_phone_then_the_story_is_masked_until_revealed(console: FlaskClient, db_url: str,
                                                               tenant_id: int) -> None:
    with session_scope(db_url) as session:
        add_job(session, tenant_id, "1001", email="jane@example.com", phone="+16135551212")
    html = _page(console, "/console/customers?q=(613) 555-1212")
    assert "/console/customers/acme/1001" in html
    story = _page(console, "/console/customers/acme/1001")
    assert "jane@example.com" not in story and "j***@example.com" in story and "1212" in story
    assert "upsert_pos_customer: ok" in story and "HTTP 201" in story
    page = console.post("/console/customers/acme/1001/reveal", headers=auth(), follow_redirects=True,
                        data={"csrf_token": csrf_of(story), "reason": "ticket 42"}).get_data(as_text=True)
    assert "jane@example.com" in page and "ops: reveal" in page
    assert _actions(db_url) == [("ops", "reveal", "1001")]
    assert "jane@example.com" not in _page(console, "/console/customers/acme/1002")


def test_link_to_another_candidate_repoints_the_link_and_resyncs(console: FlaskClient, db_url: str,
                                                                 tenant_id: int) -> None:
    with session_scope(db_url) as session:
        job = add_job(session, tenant_id, "1001", candidates=["p-1", "p-2"])
        job.ambiguous = True
        for n, pos_id in enumerate(("p-1", "p-2")):
            session.add(PosIndexEntry(tenant_id=tenant_id, pos_customer_id=pos_id, age_key=str(n)))
        links.save_link(session, tenant_id, "1001", "p-1")
        session.add(NearMatch(tenant_id=tenant_id, direction="shopify_to_pos", shopify_customer_id="1003",
                              pos_customer_id="p-2", matched_on="phone", differs="email", decision="new"))
    html = _page(console, "/console/matches")
    assert "p-2: link to this one instead" in html and "These are the same person: link" in html
    assert 'id="shopify-duplicates"' in html
    page = console.post("/console/matches/link", headers=auth(), follow_redirects=True, data={
        "csrf_token": csrf_of(html), "tenant": "acme", "shopify_id": "1001", "pos_id": "p-2"}).get_data(as_text=True)
    assert "relink of customer 1001: sync job" in page
    page = console.post("/console/matches/link", headers=auth(), follow_redirects=True, data={
        "csrf_token": csrf_of(html), "tenant": "acme", "shopify_id": "1003", "pos_id": "p-2",
        "reason": "near_match"}).get_data(as_text=True)
    assert "link_near_match of customer 1003" in page
    with session_scope(db_url) as session:
        assert links.get_link(session, tenant_id, "1001").pos_customer_id == "p-2"
        assert links.get_link(session, tenant_id, "1003").pos_customer_id == "p-2"
        fresh = session.scalars(select(SyncJob).where(SyncJob.context["topic"].as_string() == "manual")).all()
        assert sorted(j.subject for j in fresh) == ["1001", "1003"]
    assert _actions(db_url) == [("ops", "relink", "1001"), ("ops", "link_near_match", "1003")]
    unknown = console.post("/console/matches/link", headers=auth(), follow_redirects=True, data={
        "csrf_token": csrf_of(html), "tenant": "acme", "shopify_id": "1001", "pos_id": "p-404"})
    assert "POS customer p-404 is not in this tenant" in unknown.get_data(as_text=True)


def test_an_unknown_tenant_is_a_404_not_an_error(console: FlaskClient) -> None:
    assert console.get("/console/customers/nobody/1", headers=auth()).status_code == 404
    token = _token(console)
    assert console.post("/console/customers/nobody/1/resync", headers=auth(),
                        data={"csrf_token": token}).status_code == 404


def test_a_job_page_shows_its_attempts_and_replays_it(console: FlaskClient, db_url: str, tenant_id: int) -> None:
    with session_scope(db_url) as session:
        job_id = add_job(session, tenant_id, "1001", status="failed", error_class="missing_fields",
                         warnings=["military address: ZIP 96201 is not in AE"],
                         tags_dropped=[{"tag": "L" * 40, "reason": "longer than 255 characters"}]).id
    html = _page(console, f"/console/jobs/{job_id}")
    assert "missing_fields problem" in html and "422" in html and "12.5 ms" in html
    assert "ZIP 96201 is not in AE" in html and "longer than 255 characters" in html  # as `possync failed show`
    page = console.post("/console/failed/replay", headers=auth(), follow_redirects=True,
                        data={"csrf_token": csrf_of(html), "only": job_id, "back": f"/console/jobs/{job_id}"})
    assert f"replay of job {job_id}: replayed 1" in page.get_data(as_text=True)
    assert _job(db_url, job_id).status == "pending"
    assert console.get("/console/jobs/999999", headers=auth()).status_code == 404


def test_no_poll_before_the_pos_import_is_complete(console: FlaskClient, db_url: str, tenant_id: int) -> None:
    from possync.models.tables import PosImport

    with session_scope(db_url) as session:
        session.merge(PosImport(tenant_id=tenant_id, status="running", customers_read=10, pages_read=1))
    page = console.post("/console/tenants/acme/poll", headers=auth(), follow_redirects=True,
                        data={"csrf_token": _token(console)}).get_data(as_text=True)
    assert "no poll of acme before its POS import is complete (running, 10 customers read)" in page
    assert _actions(db_url) == [("ops", "poll", None)]


def test_a_pos_customer_without_a_link_has_a_story_too(console: FlaskClient, db_url: str, tenant_id: int) -> None:
    with session_scope(db_url) as session:
        session.add(PosIndexEntry(tenant_id=tenant_id, pos_customer_id="p-5", age_key="1", phone_key="6135550105"))
        add_job(session, tenant_id, "p-5", direction="pos_to_shopify", outcome="updated")
    html = _page(console, "/console/customers?q=613 555 0105")
    assert "/console/customers/acme/-?pos=p-5" in html and "not linked" in html
    story = _page(console, "/console/customers/acme/-?pos=p-5")
    assert "pos to shopify" in story and 'id="reveal"' not in story and 'id="resync"' not in story


def test_the_failed_list_has_the_clis_destinations_crm_included(console: FlaskClient, db_url: str,
                                                                tenant_id: int) -> None:
    with session_scope(db_url) as session:
        crm_job = add_job(session, tenant_id, "1001", status="failed", error_class="FatalError",
                          direction="shopify_to_crm")
        crm_job.step, crm = SHOPIFY_TO_CRM_STEPS[-1], crm_job.id
        pos = add_job(session, tenant_id, "1001", status="failed", error_class="FatalError").id
    html = _page(console, "/console/failed")
    for name in ("pos", "crm", "shopify"):  # `possync failed list --destination pos|crm|shopify`
        assert f'<option value="{name}"' in html
    html = _page(console, "/console/failed?destination=crm")
    assert f'id="job-{crm}"' in html and f'id="job-{pos}"' not in html
    assert "/console/customers/acme/1001" in html  # a CRM job's subject is the Shopify customer
    page = console.post("/console/failed/replay-all", headers=auth(), follow_redirects=True,
                        data={"csrf_token": csrf_of(html), "destination": "crm"}).get_data(as_text=True)
    assert "replayed 1, skipped 0" in page
    assert _job(db_url, crm).status == "pending" and _job(db_url, pos).status == "failed"


def test_the_tenants_page_shows_each_destination_the_crm_too(console: FlaskClient, db_url: str, secret_key: str,
                                                             tenant_id: int) -> None:
    from possync.models.tables import CrmState
    from possync.models.tenant_file import validate_tenant_data
    from possync.models.tenants import apply_tenant

    data = {"name": "crmonly", "account_name": "crmstore",
            "shopify": {"shop_domain": "crmonly.myshopify.com", "access_token": "shpat_c", "client_secret": "s"},
            "pos": None, "crm": {"kind": "freshsales", "base_url": "http://127.0.0.1:9", "api_key": "fs-key-0123456789",
                                 "requests_per_hour": 900}}
    with session_scope(db_url) as session:
        tenant, _ = apply_tenant(session, validate_tenant_data(data), secret_key)
        session.flush()
        session.add(CrmState(tenant_id=tenant.id, backfill_status="running", backfill_done=1200, backfill_total=5000,
                             missing=[{"label": "Orders", "type": "number"}]))
    row = _page(console, "/console/tenants").split("crmonly")[1].split("</tr>")[0]
    assert "no POS" in row and "CRM freshsales: backfill running 1,200 / 5,000" in row
    assert "of 900 requests left this hour" in row and "missing in the CRM: Orders (number)" in row
