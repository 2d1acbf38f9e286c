"""Building a tenant's clients: rotated tokens reach the later steps; a rate-limit turn is kept."""

from __future__ import annotations

import time

import fakeredis
import pytest

from adapters.base import VendorHttpClient
from models.tables import Tenant
from models.tenant_file import validate_tenant_data
from models.tenants import apply_tenant, load_context
from tasks.clients import BudgetWaitError, held_turn, pos_adapter_for, wire_limiter
from worker.limiter import RateLimiter

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


def _limited_client(limiter: RateLimiter) -> VendorHttpClient:
    client = VendorHttpClient("http://127.0.0.1:9")  # never called: only the limiter hook runs
    wire_limiter(client, "pos:acme", "heartland", limiter, "acme")  # Heartland's bucket: 10, 5/s
    return client


def test_a_waiting_step_keeps_its_held_turn_and_does_not_queue_again() -> None:
    limiter = RateLimiter(fakeredis.FakeRedis(), "t:")
    for _ in range(10):
        _limited_client(limiter).before_request()  # ten steps empty the bucket
    with pytest.raises(BudgetWaitError) as told:
        _limited_client(limiter).before_request()
    assert 0.15 <= told.value.retry_after <= 0.2 and told.value.turn_at is not None
    tokens = limiter.state("pos:acme")["tokens"]

    with pytest.raises(BudgetWaitError) as newcomer:
        _limited_client(limiter).before_request()
    assert newcomer.value.turn_at > told.value.turn_at  # queued behind the first waiter

    time.sleep(told.value.retry_after)
    with held_turn(told.value.turn_at):
        client = _limited_client(limiter)
        client.before_request()  # its turn: it goes, and pays now
        client.before_request()  # the rest of the step runs on credit, as always
    assert limiter.state("pos:acme")["tokens"] == pytest.approx(tokens - 2 + 5 * told.value.retry_after, abs=0.2)


def test_woken_before_its_turn_a_step_waits_again_for_the_same_turn() -> None:
    limiter = RateLimiter(fakeredis.FakeRedis(), "t:")
    turn = time.time() + 5
    with held_turn(turn), pytest.raises(BudgetWaitError) as told:
        _limited_client(limiter).before_request()
    assert told.value.turn_at == turn and 4.5 < told.value.retry_after <= 5
    assert "tokens" not in limiter.state("pos:acme")  # the bucket was not asked
