"""Engines and sessions. One engine per database URL per process, made on first use."""

from __future__ import annotations

import functools
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import DisconnectionError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.orm import Session, sessionmaker

# The database is unreachable or busy (not: the statement is wrong): the same work succeeds later.
UNAVAILABLE_ERRORS: tuple[type[Exception], ...] = (OperationalError, InterfaceError, PoolTimeoutError)


@functools.cache
def get_engine(url: str) -> Engine:
    """`hide_parameters`: a failed statement's message (kept in `last_error`, logged) would otherwise carry
    its bound values, which are customers' names, emails and addresses."""
    if url.startswith("sqlite"):
        engine = create_engine(url, hide_parameters=True, connect_args={"timeout": 30, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(conn: Any, _record: Any) -> None:
            # WAL lets the receiver write while the in-process worker reads (embedded mode).
            cur = conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        return engine
    # A short connect timeout: the receiver must answer 503 well inside Shopify's 5 seconds when the
    # database host is unreachable, not hang on the OS default.
    connect_args = {"connect_timeout": 3} if url.startswith("postgresql") else {}
    engine = create_engine(url, hide_parameters=True, pool_size=10, max_overflow=20, connect_args=connect_args)
    _ping_after_idle(engine)
    return engine


# A connection back in the pool for less than this is handed out without a ping.
PING_AFTER_IDLE_SECONDS = 1.0


def _ping_after_idle(engine: Engine) -> None:
    """Pessimistic disconnect handling, as `pool_pre_ping`, but only for connections that sat idle.

    A session gives its connection back at every commit, so `pool_pre_ping` paid a round trip per
    commit, seven per sync. A connection used a moment ago is alive unless the server restarted in
    that moment; the statement that finds out fails as a transient error (a retried step, or a 503
    Shopify retries), and SQLAlchemy then drops the whole pool. Idle ones are pinged as before, so the
    first requests after a database restart are answered normally (tests/resilience).
    """

    @event.listens_for(engine, "connect")
    @event.listens_for(engine, "checkin")
    def _checked_in(_dbapi_connection: Any, record: Any) -> None:
        # A connection made a moment ago is as fresh as one used a moment ago.
        record.info["checked_in_at"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        if time.monotonic() - record.info.get("checked_in_at", 0.0) < PING_AFTER_IDLE_SECONDS:
            return
        try:
            alive = engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as exc:
            raise DisconnectionError(f"database connection lost while idle: {exc}") from exc
        if not alive:
            raise DisconnectionError("database connection lost while idle")


@functools.cache
def get_sessionmaker(url: str) -> sessionmaker[Session]:
    return sessionmaker(get_engine(url), expire_on_commit=False)


@contextmanager
def session_scope(url: str) -> Iterator[Session]:
    """A session that commits on success and rolls back on any exception."""
    session = get_sessionmaker(url)()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
