"""`POST /webhooks/lightspeed-x/<tenant>/<token>`: only the tenant's token stores a hint; hints are
coalesced per customer and bounded per tenant; forged posts cost the tenant nothing."""

from __future__ import annotations

import json
import secrets
import uuid

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select

from possync.entry.web import lightspeed_x_webhooks
from possync.entry.web.app import create_app
from possync.models import webhook_tokens
from possync.models.db import get_sessionmaker, session_scope
from possync.models.tables import InboundEvent, SyncJob, Tenant
from possync.models.tenant_file import validate_tenant_data
from possync.models.tenants import apply_tenant
from possync.tasks.intake import handle_event
from tests.entry.web.conftest import Recorder


def x_tenant(db_url: str, key: str, name: str = "xshop") -> tuple[int, str]:
    data = validate_tenant_data({
        "name": name, "account_name": name,
        "shopify": {"shop_domain": f"{name}.myshopify.com", "access_token": "shpat_x", "client_secret": "s"},
        "pos": {"kind": "lightspeed-x", "domain_prefix": name, "access_token": "pos-token"},
    })
    with session_scope(db_url) as session:
        tenant, _ = apply_tenant(session, data, key)
        return tenant.id, webhook_tokens.reveal(tenant.webhook_token, key)


def hint(customer: str | None = None) -> dict[str, str]:
    return {"type": "customer.update", "payload": json.dumps({"id": customer or str(uuid.uuid4())})}


@pytest.fixture
def x_client(db_url: str, secret_key: str, recorder: Recorder) -> FlaskClient:
    return create_app(db_url, secret_key, recorder).test_client()


def stored(db_url: str) -> int:
    with session_scope(db_url) as session:
        return session.scalar(select(func.count()).select_from(InboundEvent)) or 0


def test_a_hint_is_stored_only_with_the_tenants_token(db_url: str, secret_key: str, x_client: FlaskClient,
                                                       recorder: Recorder) -> None:
    _, token = x_tenant(db_url, secret_key)
    good = x_client.post(webhook_tokens.url_path("xshop", token), data=hint())
    assert good.status_code == 200 and good.json["stored_as"] == "received"
    answers = [x_client.post(path, data=hint()) for path in (
        webhook_tokens.url_path("xshop", token[:-1] + ("A" if token[-1] != "A" else "B")),  # wrong token
        webhook_tokens.url_path("nobody", token),  # unknown tenant
        "/webhooks/lightspeed-x/xshop",  # the URL form before tokens
        webhook_tokens.url_path("Bad_Name", token),
    )]
    assert {(a.status_code, a.data) for a in answers} == {(404, answers[0].data)}  # one answer for all
    assert stored(db_url) == 1 and len(recorder.ids) == 1


def test_a_tenant_of_another_pos_kind_has_no_x_series_endpoint(db_url: str, secret_key: str, tenant_id: int,
                                                               x_client: FlaskClient) -> None:
    with session_scope(db_url) as session:  # even with a token forced on it
        token = webhook_tokens.issue(session.get_one(Tenant, tenant_id), secret_key)
    assert x_client.post(webhook_tokens.url_path("acme", token), data=hint()).status_code == 404
    assert stored(db_url) == 0


def test_rotating_the_token_retires_the_old_url(db_url: str, secret_key: str, recorder: Recorder) -> None:
    tenant_id, old = x_tenant(db_url, secret_key)
    with session_scope(db_url) as session:
        new = webhook_tokens.issue(session.get_one(Tenant, tenant_id), secret_key)
    client = create_app(db_url, secret_key, recorder).test_client()  # a fresh process: no cached tokens
    assert client.post(webhook_tokens.url_path("xshop", old), data=hint()).status_code == 404
    assert client.post(webhook_tokens.url_path("xshop", new), data=hint()).status_code == 200


def test_one_pending_hint_per_customer(db_url: str, secret_key: str, x_client: FlaskClient) -> None:
    _, token = x_tenant(db_url, secret_key)
    path = webhook_tokens.url_path("xshop", token)
    customer = str(uuid.uuid4())
    first = x_client.post(path, data=hint(customer))
    # Another body about the same customer (its contents changed again) while the first waits.
    again = x_client.post(path, data={**hint(customer), "retailer_id": "1"})
    assert first.json["duplicate"] is False and again.json["duplicate"] is True
    assert stored(db_url) == 1
    session = get_sessionmaker(db_url)()
    try:
        [event_id] = session.scalars(select(InboundEvent.id))
        handle_event(session, event_id)  # processed: the customer's next change is a new hint
        session.commit()
    finally:
        session.close()
    assert x_client.post(path, data={**hint(customer), "retailer_id": "2"}).json["duplicate"] is False


def test_pending_hints_are_bounded_per_tenant(db_url: str, secret_key: str, x_client: FlaskClient,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lightspeed_x_webhooks, "MAX_PENDING_HINTS", 5)
    _, token = x_tenant(db_url, secret_key)
    _, other = x_tenant(db_url, secret_key, "yshop")
    answers = [x_client.post(webhook_tokens.url_path("xshop", token), data=hint()).json for _ in range(8)]
    assert [a["stored_as"] for a in answers] == ["received"] * 5 + ["dropped"] * 3
    assert stored(db_url) == 5
    # Another tenant's bound is its own.
    assert x_client.post(webhook_tokens.url_path("yshop", other), data=hint()).json["stored_as"] == "received"


def test_ten_thousand_forged_posts_store_nothing_and_spend_nothing(db_url: str, secret_key: str,
                                                                   x_client: FlaskClient, recorder: Recorder) -> None:
    tenant_id, token = x_tenant(db_url, secret_key)
    real_customer = str(uuid.uuid4())
    codes: dict[int, int] = {}
    for index in range(10_000):
        path = (webhook_tokens.url_path("xshop", secrets.token_urlsafe(32)) if index % 3 else
                webhook_tokens.url_path(f"shop{index}", secrets.token_urlsafe(8)))
        code = x_client.post(path, data=hint()).status_code
        codes[code] = codes.get(code, 0) + 1
        if index == 5_000:  # the merchant's real hint in the middle of the flood
            assert x_client.post(webhook_tokens.url_path("xshop", token), data=hint(real_customer)).status_code == 200
    assert codes == {404: 10_000}
    session = get_sessionmaker(db_url)()
    try:
        [event_id] = session.scalars(select(InboundEvent.id))
        assert recorder.ids == [event_id]
        handle_event(session, event_id)
        session.commit()
        # The re-reads the flood could cost the tenant's X-Series budget: exactly the real one.
        assert list(session.scalars(select(SyncJob.subject).where(SyncJob.tenant_id == tenant_id))) == [real_customer]
    finally:
        session.close()
