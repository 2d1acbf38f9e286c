"""Reading ShipStation customers into possync (SPEC rule 46): full, then incremental by modify date;
paced by the shared limiter from the window headers (real Redis), so no request meets a spent window."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from possync.adapters.errors import RateLimitedError
from possync.models.tables import ShipStationRead, ShipStationRecord
from possync.tasks.shipstation.operations import read_here
from tests.tasks.shipstation.conftest import Ship, make_ship


def _count(session: Session, tenant_id: int) -> int:
    return session.scalar(select(func.count()).select_from(ShipStationRecord)
                          .where(ShipStationRecord.tenant_id == tenant_id)) or 0


def test_first_read_is_full_then_only_what_changed(ship: Ship, session: Session, secret_key: str) -> None:
    ids = [ship.shipstation.add_customer(name=f"C{i}", email=f"c{i}@example.com") for i in range(25)]
    first = read_here(session, ship.name, secret_key, page_size=10)
    assert (first.full, first.pages, first.customers) == (True, 3, 25)
    assert first.requests == 3 + 1  # the pages and the tags list
    assert _count(session, ship.tenant_id) == 25
    ship.shipstation.set_fields(ids[4], email="new4@example.com")
    ship.shipstation.add_customer(name="C25", email="c25@example.com")
    again = read_here(session, ship.name, secret_key, page_size=10)
    assert not again.full and again.pages == 1 and again.requests == 2
    assert _count(session, ship.tenant_id) == 26
    row = session.scalar(select(ShipStationRecord).where(ShipStationRecord.customer_id == str(ids[4])))
    assert row is not None and row.email_key == "new4@example.com"
    state = session.get(ShipStationRead, ship.tenant_id)
    assert state is not None and state.modified_since is not None


def test_links_by_shopify_username_and_keys(ship: Ship, session: Session, secret_key: str) -> None:
    ship.shipstation.add_customer(name="Ana", email="Ana@Example.com ", phone="(613) 555-0142", marketplace="Shopify",
                                  marketplace_id=7, username="7208000000042", street1="1 Main St", city="Ottawa",
                                  postal_code="K2P 1L4", country_code="CA")
    read_here(session, ship.name, secret_key)
    row = session.scalar(select(ShipStationRecord).where(ShipStationRecord.tenant_id == ship.tenant_id))
    assert row is not None
    assert (row.shopify_customer_id, row.store_imported) == ("7208000000042", True)
    assert (row.email_key, row.phone_key) == ("ana@example.com", "6135550142")
    assert row.address_key == "1 main st||ottawa||k2p1l4|ca"


def test_reading_never_sends_a_request_into_a_spent_window(onboarding_env: str, session: Session,
                                                           secret_key: str) -> None:
    ship = make_ship(session, secret_key, limit=4, window_seconds=1.0)
    try:
        for i in range(30):
            ship.shipstation.add_customer(name=f"C{i}", email=f"c{i}@example.com")
        waits: list[RateLimitedError] = []

        def wait(exc: RateLimitedError) -> None:
            import time
            waits.append(exc)
            time.sleep(exc.retry_after)

        summary = read_here(session, ship.name, secret_key, page_size=3, window_seconds=1.0, on_wait=wait)
        assert summary.pages == 10 and summary.customers == 30
        assert ship.shipstation.too_many == 0  # no 429: every spent window was waited out before sending
        assert summary.requests == summary.pages + 1
        assert waits  # 11 requests at 4 a window had to wait
    finally:
        for fake in (ship.shipstation, ship.shopify, ship.pos):
            fake.stop()


def test_a_tenant_without_a_shipstation_block_is_refused_by_name(ship: Ship, session: Session,
                                                                  secret_key: str) -> None:
    import pytest

    with pytest.raises(LookupError, match="no tenant named 'nope'"):
        read_here(session, "nope", secret_key)


def test_a_429_holds_every_client_of_the_key_pair_until_its_reset(ship: Ship, session: Session,
                                                                   secret_key: str) -> None:
    import pytest

    from possync.models.tenants import get_tenant, shipstation_of
    from possync.tasks.clients import BudgetWaitError, shipstation_client_for

    tenant = get_tenant(session, ship.name)
    assert tenant is not None
    block = shipstation_of(tenant, secret_key)
    assert block is not None
    ship.shipstation.inject(429, headers={"X-Rate-Limit-Limit": "40", "X-Rate-Limit-Remaining": "0",
                                          "X-Rate-Limit-Reset": "30"}, body={"message": "Too Many Requests"})
    with pytest.raises(RateLimitedError) as caught:
        shipstation_client_for(ship.name, *block).list_customers()
    assert caught.value.retry_after == 30
    other_worker = shipstation_client_for(ship.name, *block)
    with pytest.raises(BudgetWaitError) as waited:
        other_worker.list_customers()
    assert 20 < waited.value.retry_after <= 30
    assert ship.shipstation.count_requests() == 1  # the second never reached ShipStation


def test_rejected_credentials_fail_the_read_with_a_reason_kept_and_the_cursor_unmoved(
        ship: Ship, session: Session, secret_key: str) -> None:
    import pytest

    from possync.adapters.errors import AuthenticationError

    ship.shipstation.add_customer(name="A", email="a@example.com")
    read_here(session, ship.name, secret_key)
    cursor = session.get(ShipStationRead, ship.tenant_id).modified_since  # type: ignore[union-attr]
    ship.shipstation.api_secret = "rotated"
    with pytest.raises(AuthenticationError, match=r"check shipstation\.api_key / api_secret"):
        read_here(session, ship.name, secret_key)
    state = session.get(ShipStationRead, ship.tenant_id)
    assert state is not None and state.modified_since == cursor
    assert state.last_error is not None and "rejected the API key" in state.last_error
