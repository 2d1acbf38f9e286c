"""scale: maintained history counts, retention indexes, X-Series webhook tokens and hint coalescing

Revision ID: 0010
Revises: 0005
Create Date: 2026-12-07 14:00:00

- `history_counts` / `history_count_deltas`: jobs and events counted by what `/metrics` and `possync
  status` show. On PostgreSQL, statement-level triggers append one delta row per changed key in the
  same transaction as the change (insert-only: no hot row for concurrent workers to queue on); beat
  folds the deltas into `history_counts`. The counts are filled from the rows present at upgrade.
- Indexes the foreign-key actions of `possync prune` need: deleting an event sets NULL in `sync_jobs`
  and deleting a job in `near_matches`, each a lookup by the referencing column.
- `tenants.webhook_token`: the encrypted secret in a tenant's X-Series webhook URL.
- `inbound_events.hint_subject` with a partial unique index: one pending X-Series hint per customer.
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0011"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
KEY = ("kind", "tenant_id", "direction", "status", "outcome", "ambiguous")

# One function per table; `possync.keep_counts` set (by prune) leaves the counts as they are, so the
# totals survive retention.
JOB_KEY = ("'job' AS kind, tenant_id, direction, status, coalesce(outcome, '') AS outcome, "
           "coalesce(ambiguous, false) AS ambiguous")
EVENT_KEY = "'event' AS kind, tenant_id, '' AS direction, status, '' AS outcome, false AS ambiguous"


def _function(name: str, key: str) -> str:
    columns = ", ".join(KEY)
    return f"""
CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF coalesce(current_setting('possync.keep_counts', true), '') = 'on' THEN
    RETURN NULL;
  END IF;
  IF TG_OP = 'INSERT' THEN
    INSERT INTO history_count_deltas ({columns}, n)
      SELECT {key}, count(*) FROM new_rows GROUP BY 1, 2, 3, 4, 5, 6;
  ELSIF TG_OP = 'DELETE' THEN
    INSERT INTO history_count_deltas ({columns}, n)
      SELECT {key}, -count(*) FROM old_rows GROUP BY 1, 2, 3, 4, 5, 6;
  ELSE  -- a changed key: minus one for the old, plus one for the new
    INSERT INTO history_count_deltas ({columns}, n)
      SELECT {columns}, sum(n) FROM (SELECT {key}, -1 AS n FROM old_rows UNION ALL
                                     SELECT {key}, 1 FROM new_rows) AS changes
      GROUP BY 1, 2, 3, 4, 5, 6 HAVING sum(n) <> 0;
  END IF;
  RETURN NULL;
END $$;
"""


TRIGGERS = (("sync_jobs", "possync_count_jobs", JOB_KEY), ("inbound_events", "possync_count_events", EVENT_KEY))


def _key_columns() -> list[sa.Column]:
    return [sa.Column("kind", sa.String(8), nullable=False), sa.Column("tenant_id", ID, nullable=False),
            sa.Column("direction", sa.String(24), nullable=False), sa.Column("status", sa.String(16), nullable=False),
            sa.Column("outcome", sa.String(24), nullable=False), sa.Column("ambiguous", sa.Boolean(), nullable=False),
            sa.Column("n", sa.BigInteger(), nullable=False)]


def upgrade() -> None:
    op.create_table("history_counts", *_key_columns(), sa.PrimaryKeyConstraint(*KEY, name=op.f("pk_history_counts")))
    op.create_table("history_count_deltas", sa.Column("id", ID, autoincrement=True, nullable=False), *_key_columns(),
                    sa.PrimaryKeyConstraint("id", name=op.f("pk_history_count_deltas")))
    op.create_index("ix_sync_jobs_event_id", "sync_jobs", ["event_id"])
    op.create_index("ix_near_matches_job_id", "near_matches", ["job_id"])
    op.add_column("tenants", sa.Column("webhook_token", sa.Text(), nullable=True))
    op.add_column("inbound_events", sa.Column("hint_subject", sa.String(64), nullable=True))
    pending = "hint_subject IS NOT NULL AND status IN ('received', 'enqueued')"
    op.create_index("ux_inbound_events_pending_hint", "inbound_events", ["tenant_id", "source", "hint_subject"],
                    unique=True, postgresql_where=sa.text(pending), sqlite_where=sa.text(pending))
    if op.get_bind().dialect.name != "postgresql":
        return  # elsewhere (the embedded SQLite) the counts are read from the rows themselves
    columns = ", ".join(KEY)
    for table, function, key in TRIGGERS:
        op.execute(_function(function, key))
        for event, tables in (("INSERT", "NEW TABLE AS new_rows"), ("DELETE", "OLD TABLE AS old_rows"),
                              ("UPDATE", "OLD TABLE AS old_rows NEW TABLE AS new_rows")):
            op.execute(f"CREATE TRIGGER {function}_{event.lower()} AFTER {event} ON {table} "
                       f"REFERENCING {tables} FOR EACH STATEMENT EXECUTE FUNCTION {function}()")
        op.execute(f"INSERT INTO history_counts ({columns}, n) SELECT {key}, count(*) FROM {table} "
                   "GROUP BY 1, 2, 3, 4, 5, 6")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table, function, _key in TRIGGERS:
            for event in ("insert", "delete", "update"):
                op.execute(f"DROP TRIGGER IF EXISTS {function}_{event} ON {table}")
            op.execute(f"DROP FUNCTION IF EXISTS {function}()")
    op.drop_index("ux_inbound_events_pending_hint", table_name="inbound_events")
    op.drop_column("inbound_events", "hint_subject")
    op.drop_column("tenants", "webhook_token")
    op.drop_index("ix_near_matches_job_id", table_name="near_matches")
    op.drop_index("ix_sync_jobs_event_id", table_name="sync_jobs")
    op.drop_table("history_count_deltas")
    op.drop_table("history_counts")
