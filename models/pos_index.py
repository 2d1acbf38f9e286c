"""possync's own index of each tenant's POS customers (SPEC rule 9).

POS systems store emails and phones exactly as typed and their searches compare stored text, so a
vendor search misses `(613) 555-1212` when asked for `6135551212`. Every POS customer possync reads
(change poll, searches, writes) is recorded here under its normalised keys, and matching asks this
table first: one indexed probe on `(tenant_id, email_key)` or `(tenant_id, phone_key)`.

Writes are bulk upserts because the change poll feeds whole pages (100+ customers) at a time: one
`INSERT ... ON CONFLICT DO UPDATE` per page on PostgreSQL (one multi-row statement) and on SQLite
(the embedded demo; one prepared statement run per row, in process).

None of these functions commit: the caller owns the transaction (a poll page's index rows and its
cursor are committed together).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import CursorResult, Row, Select, bindparam, delete, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from possync.models.normalise import email_key as make_email_key
from possync.models.normalise import phone_key as make_phone_key
from possync.models.pos_customer import PosCustomer
from possync.models.tables import PosIndexEntry, PosStatus

_TABLE = PosIndexEntry.__table__
# Column sizes from the migration: a key that does not fit is not a usable key (a 40-digit "phone"
# is a note someone typed), so it is stored as None rather than truncated into a false match.
_EMAIL_KEY_MAX = 320
_PHONE_KEY_MAX = 32


def index_row(tenant_id: int, pos_customer: PosCustomer, region: str, seen_at: datetime, *,
              whole: bool = False) -> dict[str, Any]:
    """The index row of one POS customer (exposed for bulk loaders and benchmarks).

    `whole`: the reading comes in the order of the POS's changes (the import, the change poll): the row
    keeps the record when the adapter marked it whole (`vendor_state`), else none. Other writers leave the
    kept record as it is (`index_customers`).
    """
    customer = pos_customer.customer
    email = make_email_key(customer.email)
    phone = make_phone_key(customer.phone, region)
    return {
        "tenant_id": tenant_id,
        "pos_customer_id": pos_customer.pos_id,
        "age_key": pos_customer.age_key,
        "email_key": email if email and len(email) <= _EMAIL_KEY_MAX else None,
        "phone_key": phone if phone and len(phone) <= _PHONE_KEY_MAX else None,
        "status": PosStatus(pos_customer.status).value,
        "last_seen_at": seen_at,
        "reading": pos_customer.to_json() if whole and pos_customer.vendor_state is not None else None,
    }


def index_customers(
    session: Session,
    tenant_id: int,
    pos_customers: Iterable[PosCustomer],
    region: str,
    *,
    seen_at: datetime | None = None,
    whole: bool = False,
) -> int:
    """Insert or refresh the index rows of these POS customers; returns how many rows were written.

    The last reading of a customer wins for keys and status (the whole record: see `index_row`). The age
    key only ever moves to the older value: a search result may lack `created_at` (age key `~9999|id`)
    and must not make an old record look new, which would change which duplicate is "the oldest" (rule 11).
    """
    seen_at = seen_at or datetime.now(UTC)
    rows: dict[str, dict[str, Any]] = {}
    for pos_customer in pos_customers:
        # One row per id per statement: PostgreSQL refuses to upsert the same key twice in one INSERT.
        rows[pos_customer.pos_id] = index_row(tenant_id, pos_customer, region, seen_at, whole=whole)
    if not rows:
        return 0
    # Rows in id order: two pages upserting overlapping customers then lock them in the same order
    # and cannot deadlock each other.
    ordered = [rows[pos_id] for pos_id in sorted(rows)]
    dialect = session.get_bind().dialect.name
    if dialect not in ("postgresql", "sqlite"):
        _upsert_one_by_one(session, ordered, whole)
        return len(rows)
    if dialect == "postgresql":
        # With RETURNING, SQLAlchemy's "insertmanyvalues" sends the page as one multi-row INSERT, one round
        # trip (tests/models/test_pos_index.py); a plain executemany is a statement per row.
        session.execute(_upsert_statement(dialect, whole), ordered).all()
    else:
        session.execute(_upsert_statement(dialect, whole), ordered)  # sqlite3's executemany stays in process
    return len(rows)


@functools.cache
def _upsert_statement(dialect: str, whole: bool) -> Any:
    """Built once per dialect: building the ON CONFLICT statement cost as much as running it.

    Only the import and the change poll (`whole`) replace the kept record: a reading by id or a write's
    answer may be older than the poll's (a slow read) and would make the index claim a stale record as
    current. Theirs stays until the next poll, which sees any later write as a change.
    """
    stmt: postgresql.Insert | sqlite.Insert
    if dialect == "postgresql":
        stmt = postgresql.insert(_TABLE)
        oldest = func.least(_TABLE.c.age_key, stmt.excluded.age_key)
    else:
        stmt = sqlite.insert(_TABLE)
        oldest = func.min(_TABLE.c.age_key, stmt.excluded.age_key)  # SQLite's two-argument min() is scalar
    stmt = stmt.on_conflict_do_update(
        index_elements=[_TABLE.c.tenant_id, _TABLE.c.pos_customer_id],
        set_={
            "age_key": oldest,
            "email_key": stmt.excluded.email_key,
            "phone_key": stmt.excluded.phone_key,
            "status": stmt.excluded.status,
            "last_seen_at": stmt.excluded.last_seen_at,
            **({"reading": stmt.excluded.reading} if whole else {}),
        },
    )
    return stmt.returning(_TABLE.c.id) if dialect == "postgresql" else stmt


def _upsert_one_by_one(session: Session, rows: list[dict[str, Any]], whole: bool) -> None:
    """Portable fallback for databases without ON CONFLICT (not used by PostgreSQL or SQLite)."""
    for row in rows:
        entry = session.scalar(
            select(PosIndexEntry).where(
                PosIndexEntry.tenant_id == row["tenant_id"],
                PosIndexEntry.pos_customer_id == row["pos_customer_id"],
            )
        )
        if entry is None:
            session.add(PosIndexEntry(**row))
            continue
        row = dict(row, age_key=min(entry.age_key, row["age_key"]))
        if not whole:
            row.pop("reading")
        for name, value in row.items():
            setattr(entry, name, value)
    session.flush()


def lookup(session: Session, tenant_id: int, *, email_key: str | None = None, phone_key: str | None = None,
           active_only: bool = True) -> list[Row[Any]]:
    """Index rows with this email key or this phone key, oldest first (matching's one probe).

    Keys are the normalised forms (`possync.models.normalise`), not raw input. Matching tries the keys in
    the tenant's order, but reading both in one statement (each probe served by `ix_pos_index_email`
    / `ix_pos_index_phone`) costs one round trip where asking key by key cost two for every new
    customer. Rows, not entities: matching only reads them, and the ORM's bookkeeping cost more than
    the probe.
    """
    if email_key is None and phone_key is None:
        raise ValueError("lookup needs an email_key or a phone_key")
    params = {"tenant_id": tenant_id, "email_key": email_key, "phone_key": phone_key}
    return list(session.execute(_lookup_statement(active_only), params))


@functools.cache
def _lookup_statement(active_only: bool) -> Select[Any]:
    """Built once: constructing a statement costs more than the indexed probe it runs."""
    stmt = select(_TABLE.c.pos_customer_id, _TABLE.c.age_key, _TABLE.c.status, _TABLE.c.email_key,
                  _TABLE.c.phone_key).where(
        _TABLE.c.tenant_id == bindparam("tenant_id"),
        or_(_TABLE.c.email_key == bindparam("email_key"), _TABLE.c.phone_key == bindparam("phone_key")),
    )
    if active_only:
        stmt = stmt.where(_TABLE.c.status == PosStatus.ACTIVE.value)
    return stmt.order_by(_TABLE.c.age_key, _TABLE.c.pos_customer_id)


def indexed_reading(session: Session, tenant_id: int, pos_id: str) -> PosCustomer | None:
    """The whole record the import or the change poll last read of this customer, if the row keeps one."""
    entry = get_entry(session, tenant_id, pos_id)
    if entry is None or entry.reading is None or entry.status != PosStatus.ACTIVE.value:
        return None
    pos = PosCustomer.from_json(entry.reading)
    return pos if pos.status is PosStatus.ACTIVE else None


def get_entry(session: Session, tenant_id: int, pos_id: str) -> PosIndexEntry | None:
    return session.scalar(
        select(PosIndexEntry)
        .where(PosIndexEntry.tenant_id == tenant_id, PosIndexEntry.pos_customer_id == pos_id)
        .execution_options(populate_existing=True)
    )


def mark_status(session: Session, tenant_id: int, pos_id: str, status: PosStatus | str) -> bool:
    """Record a status seen outside a full read (e.g. a linked customer found archived); False if not indexed."""
    result = cast(CursorResult, session.execute(
        update(PosIndexEntry)
        .where(PosIndexEntry.tenant_id == tenant_id, PosIndexEntry.pos_customer_id == pos_id)
        .values(status=PosStatus(status).value, last_seen_at=datetime.now(UTC), reading=None)
        .execution_options(synchronize_session=False)
    ))
    return bool(result.rowcount)


def forget(session: Session, tenant_id: int, pos_ids: Iterable[str]) -> int:
    """Delete the index rows of these POS customers (privacy: redact, shop redact); returns rows deleted."""
    ids = list(dict.fromkeys(pos_ids))
    if not ids:
        return 0
    deleted = 0
    for start in range(0, len(ids), 500):  # stays under SQLite's bound-parameter limit
        result = cast(CursorResult, session.execute(
            delete(PosIndexEntry)
            .where(PosIndexEntry.tenant_id == tenant_id, PosIndexEntry.pos_customer_id.in_(ids[start : start + 500]))
            .execution_options(synchronize_session=False)
        ))
        deleted += result.rowcount or 0
    return deleted
