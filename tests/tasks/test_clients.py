"""Building a tenant's clients: rotated POS tokens reach the steps that run after the rotation."""

from __future__ import annotations

from models.tables import Tenant
from models.tenant_file import validate_tenant_data
from models.tenants import apply_tenant, load_context
from tasks.clients import pos_adapter_for

TENANT = {"name": "acme", "account_name": "acmestore",
          "shopify": {"shop_domain": "acme.myshopify.com", "access_token": "t", "client_secret": "s"},
          "pos": {"kind": "lightspeed-r", "account_id": "1", "access_token": "old-access", "refresh_token": "old",
                  "client_id": "c", "client_secret": "cs"}}


def test_rotated_tokens_are_stored_and_used_by_the_next_steps_adapter(  # type: ignore[no-untyped-def]
        session, db_url: str, secret_key: str, activate_env) -> None:
    activate_env(POSSYNC_DATABASE_URL=db_url)  # no Redis URL: the embedded limiter
    tenant_row, _ = apply_tenant(session, validate_tenant_data(TENANT), secret_key)
    session.commit()
    context = load_context(tenant_row, secret_key)
    adapter = pos_adapter_for(context)
    rotated = {**context.pos_secrets, "access_token": "new-access", "refresh_token": "new"}
    adapter.client.save_secrets(rotated)  # what the client does after a refresh, before using the new token

    session.expire_all()
    assert load_context(session.get_one(Tenant, tenant_row.id), secret_key).pos_secrets == rotated
    # One run of a job shares this context across its steps: the old refresh token is revoked by now.
    assert pos_adapter_for(context).client._secrets["refresh_token"] == "new"
