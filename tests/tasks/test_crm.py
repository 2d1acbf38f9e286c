"""The CRM steps' helpers against real PostgreSQL: the per-tenant state row and the cached connect check."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.orm import Session

from possync.adapters.freshsales.adapter import ConnectCheck
from possync.adapters.freshsales.mapping import CrmSchema
from possync.models.tables import CrmState
from possync.models.tenant_file import validate_tenant_data
from possync.models.tenants import apply_tenant, load_context
from possync.tasks.crm import connect, crm_state, forget_check, missing_labels


@pytest.fixture
def tenant(session: Session, secret_key: str) -> Any:
    data = {"name": "crmt", "account_name": "s", "pos": None,
            "shopify": {"shop_domain": "crmt.myshopify.com", "access_token": "t", "client_secret": "c"},
            "crm": {"kind": "freshsales", "domain": "acme", "api_key": "k"}}
    row, _ = apply_tenant(session, validate_tenant_data(data), secret_key)
    session.commit()
    return load_context(row, secret_key)


class CountingAdapter:
    schema_from_json = staticmethod(CrmSchema.from_json)

    def __init__(self) -> None:
        self.checks = 0

    def connect_check(self) -> ConnectCheck:
        self.checks += 1
        return ConnectCheck(CrmSchema({"order_count": "cf_n"}), [{"what": "custom field", "label": "Lifetime value",
                                                                   "type": "text"}])


def test_a_state_row_made_meanwhile_by_another_job_is_used_not_duplicated(tenant, session: Session,  # type: ignore[no-untyped-def]
                                                                          db_url: str, monkeypatch) -> None:
    from possync.models.db import session_scope

    with session_scope(db_url) as other:  # another worker made the row between this one's read and insert
        crm_state(other, tenant.id)
    real_get = Session.get
    calls = []

    def get_missing_once(self, entity, ident, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(entity)
        return None if len(calls) == 1 else real_get(self, entity, ident, **kwargs)

    monkeypatch.setattr(Session, "get", get_missing_once)
    row = crm_state(session, tenant.id)
    assert row.tenant_id == tenant.id and session.query(CrmState).count() == 1


def test_the_connect_check_runs_once_per_tenant_until_forgotten(tenant, session: Session) -> None:  # type: ignore[no-untyped-def]
    adapter = CountingAdapter()
    schema, missing = connect(session, tenant, adapter)
    again, _ = connect(session, tenant, adapter)
    assert adapter.checks == 1 and schema == again == CrmSchema({"order_count": "cf_n"})
    assert missing_labels(missing) == ["Lifetime value (text)"]
    forget_check(session, tenant.id)  # a field vanished from the CRM
    connect(session, tenant, adapter)
    assert adapter.checks == 2
