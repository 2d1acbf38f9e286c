"""Writing a webhook delivery as an `InboundEvent` row, then marking it handed to the broker.

SQLAlchemy Core on one pooled connection per delivery rather than an ORM session per step: the
receiver's whole job is this insert, and the unit of work, a second pool checkout (with its
pre-ping) and an exception for every duplicate cost more than the insert itself. On PostgreSQL and
SQLite the insert is `ON CONFLICT DO NOTHING RETURNING id`: no row back means the delivery is one
already stored, under its webhook id (a retry) or under its sender's event id and topic (a replayed
body, or a second subscription's delivery of the same action). Other databases fall back to the
IntegrityError.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Insert, and_, bindparam, or_, select, update
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects import postgresql, sqlite

from possync.models.db import UNAVAILABLE_ERRORS, get_engine
from possync.models.tables import EventStatus, InboundEvent

# Any refusal of the database answers 503 here, not only the transient ones (the sender retries).
DB_ERRORS: tuple[type[Exception], ...] = (sa_exc.DBAPIError, *UNAVAILABLE_ERRORS)
_TABLE = InboundEvent.__table__
Enqueue = Callable[[int, int | None], None]  # (event id, tenant id): hand a stored event to the broker


class DatabaseUnavailable(Exception):  # noqa: N818 - a condition, raised to answer 503
    """The event could not be stored (database unreachable, or the row refused for another reason)."""

    def __init__(self, step: str, cause: BaseException | None = None) -> None:
        self.step = step
        self.cause = type(cause).__name__ if cause is not None else "refused"  # a class name: no SQL, no data
        super().__init__(f"{step}: {self.cause}")


@dataclass(frozen=True)
class StoreOutcome:
    event_id: int | None  # None: already stored (a duplicate delivery)
    enqueued: bool = False
    enqueue_error: BaseException | None = None


class EventStore:
    def __init__(self, database_url: str) -> None:
        self._database_url = database_url

    def store(self, values: dict[str, Any], enqueue: Enqueue | None = None) -> StoreOutcome:
        """Insert and commit the event; then, when `enqueue` is given, call it with the new id and its
        tenant (whose fair line of the intake queue it waits in) and mark the row `enqueued`. Raises
        `DatabaseUnavailable` when the row could not be committed; nothing after the commit can fail the
        delivery."""
        engine = get_engine(self._database_url)
        try:
            conn = engine.connect()
        except DB_ERRORS as exc:
            raise DatabaseUnavailable("connect", exc) from None
        with conn:
            event_id = self._insert(conn, values)
            if event_id is None or enqueue is None:
                return StoreOutcome(event_id)
            try:
                enqueue(event_id, values.get("tenant_id"))
            except Exception as exc:  # broker unreachable: the row stays `received` for the sweeper
                return StoreOutcome(event_id, enqueued=False, enqueue_error=exc)
            self._mark_enqueued(conn, event_id)
            return StoreOutcome(event_id, enqueued=True)

    def _insert(self, conn: Connection, values: dict[str, Any]) -> int | None:
        statement = _INSERTS.get(conn.dialect.name, _PLAIN_INSERT)
        try:
            event_id = conn.execute(statement, values).scalar_one_or_none()
            conn.commit()
            return event_id
        except sa_exc.IntegrityError as exc:  # databases without ON CONFLICT, or a vanished tenant
            _rollback_quietly(conn)
            if self._exists(conn, values):
                return None
            raise DatabaseUnavailable("insert", exc) from None
        except DB_ERRORS as exc:
            _rollback_quietly(conn)
            raise DatabaseUnavailable("insert", exc) from None

    @staticmethod
    def _exists(conn: Connection, values: dict[str, Any]) -> bool:
        same = _TABLE.c.source == values["source"]
        key = _TABLE.c.webhook_id == values["webhook_id"]
        if values.get("sender_event_id"):
            key = or_(key, and_(_TABLE.c.tenant_id == values["tenant_id"], _TABLE.c.topic == values["topic"],
                                _TABLE.c.sender_event_id == values["sender_event_id"]))
        try:
            found = conn.execute(select(_TABLE.c.id).where(same, key)).first()
        except DB_ERRORS as exc:
            raise DatabaseUnavailable("duplicate check", exc) from None
        return found is not None

    @staticmethod
    def _mark_enqueued(conn: Connection, event_id: int) -> None:
        """Best effort: a lost mark only makes the sweeper enqueue again (tasks are idempotent)."""
        try:
            if conn.dialect.name == "postgresql":
                # So this commit need not wait for the WAL flush: the row itself is already durable.
                conn.exec_driver_sql("SET LOCAL synchronous_commit TO OFF")
            conn.execute(_MARK_ENQUEUED, {"event_id": event_id, "now": datetime.now(UTC)})
            conn.commit()
        except DB_ERRORS:
            _rollback_quietly(conn)


# Statements are built once: building and cache-keying them per delivery costs as much as running them.
# No conflict target: either unique key (webhook id; sender event id and topic) makes a duplicate.
_INSERTS: dict[str, Insert] = {
    "postgresql": postgresql.insert(_TABLE).on_conflict_do_nothing().returning(_TABLE.c.id),
    "sqlite": sqlite.insert(_TABLE).on_conflict_do_nothing().returning(_TABLE.c.id),
}
_PLAIN_INSERT = _TABLE.insert().returning(_TABLE.c.id)
# Conditional: a fast worker may already have moved the event on; never step it back.
_MARK_ENQUEUED = (
    update(_TABLE)
    .where(_TABLE.c.id == bindparam("event_id"), _TABLE.c.status == EventStatus.RECEIVED.value)
    .values(status=EventStatus.ENQUEUED.value, enqueued_at=bindparam("now"))
)


def _rollback_quietly(conn: Connection) -> None:
    with contextlib.suppress(*DB_ERRORS):
        conn.rollback()
