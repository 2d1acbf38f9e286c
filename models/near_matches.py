"""Near matches (SPEC rule 10): records one key found and another contradicted, for the operator.

A phone match whose email differs is another person by default; the operator sees each such pair in
`possync status` and the job's details and decides. Recording is idempotent: one row per pair and
direction, whatever number of jobs meets it. None of these functions commit.
"""

from __future__ import annotations

import functools
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from possync.models.tables import NearMatch


def record_near_match(session: Session, *, tenant_id: int, direction: str, shopify_id: str, pos_id: str,
                      matched_on: str, differs: str, decision: str, job_id: int | None) -> None:
    session.execute(_insert_statement(session.get_bind().dialect.name), {
        "tenant_id": tenant_id, "direction": direction, "shopify_customer_id": str(shopify_id),
        "pos_customer_id": str(pos_id), "matched_on": matched_on, "differs": differs, "decision": decision,
        "job_id": job_id,
    })


@functools.cache
def _insert_statement(dialect: str) -> Any:
    table = NearMatch.__table__
    stmt = postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)
    return stmt.on_conflict_do_nothing()


def near_matches(session: Session, tenant_id: int) -> list[NearMatch]:
    return list(session.scalars(select(NearMatch).where(NearMatch.tenant_id == tenant_id).order_by(NearMatch.id)))


def near_matches_by_tenant(session: Session) -> dict[int, int]:
    """Every tenant's count in one grouped query (`possync status`)."""
    return dict(session.execute(select(NearMatch.tenant_id, func.count()).group_by(NearMatch.tenant_id)).all())
