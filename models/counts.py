"""Jobs and events counted by tenant and state, at a cost that does not grow with the history.

On PostgreSQL triggers (migration 0010) append a delta row for every change of a counted key, in the
transaction of the change; `fold_deltas` (beat) adds them into `history_counts`. A read is the counts
plus the deltas not folded yet: both the size of the key space and of the last minute's activity.
Deletions made by `possync prune` leave the counts alone, so totals include pruned history.
Elsewhere (the embedded SQLite) there are no triggers and the rows themselves are counted.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, literal, select, text, union_all
from sqlalchemy.orm import Session

from possync.models.tables import HistoryCount, HistoryCountDelta, InboundEvent, SyncJob


@dataclass(frozen=True)
class Count:
    kind: str  # job / event
    tenant_id: int
    direction: str  # '' for events
    status: str
    outcome: str  # '' for none (and for events)
    ambiguous: bool
    n: int


def maintained(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def read_counts(session: Session, tenant_id: int | None = None) -> list[Count]:
    """Every non-zero count, of one tenant or all."""
    if not maintained(session):
        return _counted(session, tenant_id)
    key = ("kind", "tenant_id", "direction", "status", "outcome", "ambiguous")
    parts = []
    for table in (HistoryCount.__table__, HistoryCountDelta.__table__):
        part = select(*(table.c[name] for name in key), table.c.n)
        if tenant_id is not None:
            part = part.where(table.c.tenant_id == tenant_id)
        parts.append(part)
    both = union_all(*parts).subquery()
    columns = [both.c[name] for name in key]
    rows = session.execute(select(*columns, func.sum(both.c.n)).group_by(*columns)
                           .having(func.sum(both.c.n) != 0))
    return [Count(*row[:6], int(row[6])) for row in rows]


def _counted(session: Session, tenant_id: int | None) -> list[Count]:
    jobs = select(literal("job"), SyncJob.tenant_id, SyncJob.direction, SyncJob.status,
                  func.coalesce(SyncJob.outcome, ""), func.coalesce(SyncJob.ambiguous, False), func.count())
    events = select(literal("event"), InboundEvent.tenant_id, literal(""), InboundEvent.status, literal(""),
                    literal(False), func.count())
    if tenant_id is not None:
        jobs = jobs.where(SyncJob.tenant_id == tenant_id)
        events = events.where(InboundEvent.tenant_id == tenant_id)
    rows = [*session.execute(jobs.group_by(*jobs.selected_columns[1:6])),
            *session.execute(events.group_by(InboundEvent.tenant_id, InboundEvent.status))]
    return [Count(str(r[0]), r[1], r[2], r[3], r[4], bool(r[5]), int(r[6])) for r in rows]


_FOLD = text("""
WITH moved AS (
  DELETE FROM history_count_deltas WHERE id <= (SELECT max(id) FROM history_count_deltas)
  RETURNING kind, tenant_id, direction, status, outcome, ambiguous, n)
INSERT INTO history_counts (kind, tenant_id, direction, status, outcome, ambiguous, n)
SELECT kind, tenant_id, direction, status, outcome, ambiguous, sum(n) FROM moved
GROUP BY kind, tenant_id, direction, status, outcome, ambiguous
ON CONFLICT (kind, tenant_id, direction, status, outcome, ambiguous)
DO UPDATE SET n = history_counts.n + excluded.n
""")
# Counts of deleted tenants, and keys that came back to zero (a job passing through `running`).
_TIDY = text("DELETE FROM history_counts WHERE n = 0 OR tenant_id NOT IN (SELECT id FROM tenants)")


def fold_deltas(session: Session) -> None:
    """Add the pending deltas into the counts, in the caller's transaction (a no-op without triggers).

    Two folds at once are safe: a delta row is deleted, and so added, by one of them only.
    """
    if maintained(session):
        session.execute(_FOLD)
        session.execute(_TIDY)
