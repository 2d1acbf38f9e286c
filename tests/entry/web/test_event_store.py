"""Storing deliveries: duplicates, refused rows, and the `enqueued` mark that never steps an event back."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from possync.entry.web.event_store import DatabaseUnavailable, EventStore
from possync.models.db import get_engine
from possync.models.tables import EventStatus, InboundEvent


def values(tenant_id: int, webhook_id: str = "wh-1") -> dict:
    return {"tenant_id": tenant_id, "source": "shopify", "webhook_id": webhook_id, "topic": "orders/create",
            "headers": {}, "body": b"{}", "status": EventStatus.RECEIVED.value, "error": None,
            "received_at": datetime.now(UTC)}


def status_of(db_url: str, event_id: int) -> str:
    with get_engine(db_url).connect() as conn:
        return conn.execute(sa.select(InboundEvent.status).where(InboundEvent.id == event_id)).scalar_one()


def test_duplicate_returns_no_id_and_does_not_enqueue(db_url: str, tenant_id: int) -> None:
    store, calls = EventStore(db_url), []
    first = store.store(values(tenant_id), lambda *args: calls.append(args))
    second = store.store(values(tenant_id), lambda *args: calls.append(args))
    assert first.event_id is not None and first.enqueued and second.event_id is None
    assert calls == [(first.event_id, tenant_id)]  # the tenant names the event's fair line at intake


@pytest.mark.parametrize("backend", ["postgresql", "sqlite"])
def test_a_repeated_sender_event_id_and_topic_is_a_duplicate(backend: str, db_url: str, sqlite_url: str,
                                                             tenant_id: int, secret_key: str) -> None:
    url = db_url if backend == "postgresql" else sqlite_url
    if backend == "sqlite":
        from tests.entry.web.conftest import add_tenant

        tenant_id = add_tenant(sqlite_url, secret_key)
    store = EventStore(url)
    first = store.store({**values(tenant_id, "wh-1"), "sender_event_id": "ev-1"})
    replay = store.store({**values(tenant_id, "wh-2"), "sender_event_id": "ev-1"})
    other_topic = store.store({**values(tenant_id, "wh-3"), "sender_event_id": "ev-1", "topic": "customers/update"})
    no_event_id = [store.store(values(tenant_id, f"wh-{i}")) for i in (4, 5)]
    assert first.event_id is not None and replay.event_id is None and other_topic.event_id is not None
    assert all(outcome.event_id is not None for outcome in no_event_id)


def test_the_duplicate_check_without_on_conflict_sees_the_sender_event_id(db_url: str, tenant_id: int) -> None:
    """Databases without ON CONFLICT get the IntegrityError, then look the row up by either key."""
    store = EventStore(db_url)
    store.store({**values(tenant_id, "wh-1"), "sender_event_id": "ev-1"})
    with get_engine(db_url).connect() as conn:
        assert EventStore._exists(conn, {**values(tenant_id, "wh-2"), "sender_event_id": "ev-1"})
        assert EventStore._exists(conn, values(tenant_id, "wh-1"))
        assert not EventStore._exists(conn, {**values(tenant_id, "wh-2"), "sender_event_id": "ev-2"})


def test_a_row_the_database_refuses_is_unavailable_not_a_duplicate(db_url: str, tenant_id: int) -> None:
    with pytest.raises(DatabaseUnavailable) as caught:
        EventStore(db_url).store(values(tenant_id + 999))  # the tenant vanished meanwhile (foreign key)
    assert caught.value.cause == "IntegrityError"


def test_enqueue_failure_leaves_the_row_received(db_url: str, tenant_id: int) -> None:
    def broken(event_id: int, _tenant_id: int | None) -> None:
        raise ConnectionError("broker down")

    outcome = EventStore(db_url).store(values(tenant_id), broken)
    assert not outcome.enqueued and isinstance(outcome.enqueue_error, ConnectionError)
    assert status_of(db_url, outcome.event_id) == EventStatus.RECEIVED.value


def test_mark_never_steps_a_processed_event_back(db_url: str, tenant_id: int) -> None:
    def fast_worker(event_id: int, _tenant_id: int | None) -> None:  # it finishes before the receiver marks the row
        with get_engine(db_url).begin() as conn:
            conn.execute(sa.update(InboundEvent).where(InboundEvent.id == event_id)
                         .values(status=EventStatus.PROCESSED.value))

    outcome = EventStore(db_url).store(values(tenant_id), fast_worker)
    assert status_of(db_url, outcome.event_id) == EventStatus.PROCESSED.value
