"""`epoch_ms(column)`: a timestamp column as integer milliseconds since the epoch, in SQL, on PostgreSQL
and SQLite alike, so a rule over times (beat's due scan) can run in the database and return only its
answer."""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement


class epoch_ms(FunctionElement[int]):  # noqa: N801 - used as a SQL function
    type = BigInteger()
    inherit_cache = True


@compiles(epoch_ms, "postgresql")
def _postgresql(element: epoch_ms, compiler: Any, **kw: Any) -> str:
    return f"floor(extract(epoch FROM {compiler.process(element.clauses, **kw)}) * 1000)::bigint"


@compiles(epoch_ms, "sqlite")
def _sqlite(element: epoch_ms, compiler: Any, **kw: Any) -> str:
    # SQLite's date functions hold whole milliseconds (rounded from the stored microseconds); julianday's
    # double gives them back within a hair, so round, not truncate. 2440587.5: the epoch's Julian day.
    return f"CAST(round((julianday({compiler.process(element.clauses, **kw)}) - 2440587.5) * 86400000) AS INTEGER)"
