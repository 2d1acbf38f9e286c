"""Building a tenant's clients: rotated tokens reach the later steps; a rate-limit turn is kept."""

from __future__ import annotations

import threading
import time

import fakeredis
import pytest

from possync.adapters.base import VendorHttpClient
from possync.adapters.errors import BudgetWaitError
from possync.models.tables import Tenant
from possync.models.tenant_file import validate_tenant_data
from possync.models.tenants import apply_tenant, load_context
from possync.tasks.clients import count_requests, held_turn, pos_adapter_for, shopify_client_for, wire_limiter
from possync.worker.limiter import RateLimiter

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
    # The bucket's clock stands still unless moved (a loaded machine cannot refill it between calls); turns
    # are judged on the wall clock, so the test sleeps through the wait as well.
    bucket_clock = [time.time()]
    limiter = RateLimiter(fakeredis.FakeRedis(), "t:", now=lambda: bucket_clock[0])
    for _ in range(10):
        _limited_client(limiter).before_request()  # ten steps empty the bucket
    with pytest.raises(BudgetWaitError) as told:
        _limited_client(limiter).before_request()
    assert told.value.retry_after == pytest.approx(0.2, abs=0.002) and told.value.turn_at is not None
    tokens = limiter.state("pos:acme")["tokens"]

    with pytest.raises(BudgetWaitError) as newcomer:
        _limited_client(limiter).before_request()
    assert newcomer.value.turn_at > told.value.turn_at  # queued behind the first waiter

    time.sleep(told.value.retry_after)
    bucket_clock[0] += told.value.retry_after
    with held_turn(told.value.turn_at):
        client = _limited_client(limiter)
        client.before_request()  # its turn: it goes, and pays now
        client.before_request()  # the rest of the step runs on credit, as always
    assert limiter.state("pos:acme")["tokens"] == pytest.approx(tokens - 2 + 5 * told.value.retry_after, abs=0.01)


def test_woken_before_its_turn_a_step_waits_again_for_the_same_turn() -> None:
    limiter = RateLimiter(fakeredis.FakeRedis(), "t:")
    turn = time.time() + 5
    with held_turn(turn), pytest.raises(BudgetWaitError) as told:
        _limited_client(limiter).before_request()
    assert told.value.turn_at == turn and 4.5 < told.value.retry_after <= 5
    assert "tokens" not in limiter.state("pos:acme")  # the bucket was not asked


# --- Shopify: paced by the shop's query-cost bucket ------------------------------------------------------
def _shopify_load(get_client, customer_id: str, threads: int = 4, calls: int = 15) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    """`threads` workers each read a customer `calls` times, waiting as a step would (a limiter wait with
    its turn, a THROTTLED answer with its computed wait). Returns (calls done, THROTTLED answers seen)."""
    from possync.adapters.errors import RateLimitedError

    done, refused = [0], [0]
    lock = threading.Lock()

    def work() -> None:
        for _ in range(calls):
            turn = None
            while True:
                try:
                    with held_turn(turn):
                        get_client().get_customer(customer_id)
                    break
                except BudgetWaitError as wait:
                    turn = wait.turn_at
                    time.sleep(wait.retry_after)
                except RateLimitedError as throttled:
                    with lock:
                        refused[0] += 1
                    time.sleep(throttled.retry_after)
            with lock:
                done[0] += 1

    workers = [threading.Thread(target=work) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    return done[0], refused[0]


@pytest.fixture
def small_shopify():  # type: ignore[no-untyped-def]
    """A shop whose query-cost bucket holds 60 points restoring 200/s (a customer read asks for 6)."""
    from possync.adapters.shopify.fake import FakeShopify

    fake = FakeShopify("shpat_small", shop_domain="acme.myshopify.com", maximum_available=60, restore_rate=200)
    fake.start()
    yield fake
    fake.stop()


def test_shopify_calls_wait_their_turn_instead_of_being_throttled(  # type: ignore[no-untyped-def]
        session, db_url: str, secret_key: str, activate_env, small_shopify) -> None:
    activate_env(POSSYNC_DATABASE_URL=db_url)  # no Redis URL: the embedded limiter, same script
    shop = {**TENANT["shopify"], "access_token": "shpat_small", "api_base_url": small_shopify.url}
    tenant_row, _ = apply_tenant(session, validate_tenant_data({**TENANT, "shopify": shop}), secret_key)
    session.commit()
    context = load_context(tenant_row, secret_key)
    customer_id = small_shopify.add_customer("Ann", "Lee", "ann@example.com")
    # One answer teaches the limiter this shop's bucket. Until then it assumes 1000 points, which no
    # real plan undercuts (this fake's 60 does: a concurrent first burst could overrun it).
    shopify_client_for(context).get_customer(customer_id)

    done, refused = _shopify_load(lambda: shopify_client_for(context), customer_id)

    # 60 reads of 6 points = 360 points through a bucket of 60: most had to wait, none was refused.
    assert done == 60 and refused == 0 and small_shopify.throttled == 0
    assert small_shopify.count_requests("POST") == 61  # no request was sent only to be refused
    from possync.worker.runtime import limiter
    state = limiter().state("shopify:acme.myshopify.com")
    assert state["capacity"] == 60 and state["rate"] == 200  # learnt from throttleStatus


def test_the_same_load_unpaced_is_throttled(small_shopify) -> None:  # type: ignore[no-untyped-def]
    """The control: without the limiter the fake's bucket refuses calls (the test above can fail)."""
    from possync.adapters.shopify.client import ShopifyClient

    customer_id = small_shopify.add_customer("Ann", "Lee", "ann@example.com")
    done, refused = _shopify_load(
        lambda: ShopifyClient("acme.myshopify.com", "shpat_small", base_url=small_shopify.url), customer_id)
    assert done == 60 and refused > 0 and small_shopify.throttled == refused


# --- the CRM's windows (SPEC rule 44) ---------------------------------------------------------------------
def test_a_commands_crm_client_takes_a_place_for_every_request() -> None:
    """The backfill reuses one client: each upsert waits for its place, none goes on credit."""
    from possync.tasks.clients import wire_window_limiter
    from possync.worker.limiter import Window

    limiter = RateLimiter(fakeredis.FakeRedis(), "t:")
    waits: list[float] = []
    client = VendorHttpClient("http://127.0.0.1:9")
    wire_window_limiter(client, "crm:acme", (Window(2, 60.0),), limiter, "acme",
                        wait=lambda exc: waits.append(exc.retry_after))
    for _ in range(3):
        client.before_request()
    assert len(waits) == 1 and 59 < waits[0] <= 60


def test_a_workers_crm_step_is_told_to_wait_only_before_its_first_request() -> None:
    from possync.tasks.clients import BudgetWaitError, wire_window_limiter
    from possync.worker.limiter import Window

    limiter = RateLimiter(fakeredis.FakeRedis(), "t:")
    step = VendorHttpClient("http://127.0.0.1:9")
    wire_window_limiter(step, "crm:acme", (Window(2, 60.0),), limiter, "acme")
    for _ in range(3):
        step.before_request()  # the connect check and the upsert of one step: never cut in half
    later = VendorHttpClient("http://127.0.0.1:9")
    wire_window_limiter(later, "crm:acme", (Window(2, 60.0),), limiter, "acme")
    with pytest.raises(BudgetWaitError) as told:
        later.before_request()
    assert told.value.turn_at is not None


def test_pos_requests_are_counted_by_status_and_transport_failure() -> None:
    from possync.adapters.errors import AdapterError
    from possync.worker import metrics

    def value(status: str) -> float:
        return metrics.POS_REQUESTS.labels(pos="heartland", status=status)._value.get()

    client = VendorHttpClient("http://127.0.0.1:9")  # nothing listens: a transport failure
    count_requests(client, "heartland")
    before = value("error")
    with pytest.raises(AdapterError):
        client.request("GET", "/x")
    assert value("error") == before + 1
    client.on_response(200)  # type: ignore[misc]
    assert value("200") >= 1
