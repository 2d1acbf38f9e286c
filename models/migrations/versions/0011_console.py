"""console: the operator console's audit log and the indexes of its pages

Revision ID: 0011
Revises: 0005
Create Date: 2026-12-07 14:00:00

Every page of the console reads a bounded slice through an index, so it stays fast with millions of jobs:
today's syncs per tenant, the failed list by tenant and error class, the ambiguous matches, a customer found
by id in any tenant, and (PostgreSQL) by the email or phone of the Shopify customer a job read.
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0008"
branch_labels = None
depends_on = None

FAILED = sa.text("status = 'failed'")
AMBIGUOUS = sa.text("ambiguous IS true")  # the very form the queries use, or PostgreSQL will not use it
# The Shopify customer a job read (its fetch step's result), as `possync.tasks.console.customers` queries it.
EMAIL_EXPRESSION = "lower(context #>> '{shopify_customer,customer,email}')"
PHONE_EXPRESSION = "(context #>> '{shopify_customer,customer,phone}')"


def upgrade() -> None:
    op.create_table(
        "console_actions",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=255), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("tenant_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("customer", sa.String(length=64), nullable=True),
        sa.Column("detail", sa.JSON().with_variant(sa.dialects.postgresql.JSONB(), "postgresql"), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_console_actions")),
    )
    op.create_index("ix_console_actions_customer", "console_actions", ["tenant_id", "customer", "at"])
    # Today's syncs by outcome read from the index alone; the failed list of every tenant, newest first.
    op.create_index("ix_sync_jobs_tenant_finished", "sync_jobs", ["tenant_id", "finished_at", "status", "outcome"])
    op.create_index("ix_sync_jobs_failed_newest", "sync_jobs", ["id"], postgresql_where=FAILED, sqlite_where=FAILED)
    op.create_index("ix_sync_jobs_failed", "sync_jobs", ["tenant_id", "last_error_class", "id"],
                    postgresql_where=FAILED, sqlite_where=FAILED)
    op.create_index("ix_sync_jobs_ambiguous", "sync_jobs", ["tenant_id", "id"],
                    postgresql_where=AMBIGUOUS, sqlite_where=AMBIGUOUS)
    op.create_index("ix_sync_jobs_ambiguous_newest", "sync_jobs", ["id"], postgresql_where=AMBIGUOUS,
                    sqlite_where=AMBIGUOUS)
    op.create_index("ix_sync_jobs_subject_any_tenant", "sync_jobs", ["subject"])
    op.create_index("ix_customer_links_pos_any_tenant", "customer_links", ["pos_customer_id"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"CREATE INDEX ix_sync_jobs_customer_email ON sync_jobs ({EMAIL_EXPRESSION})")
        op.execute(f"CREATE INDEX ix_sync_jobs_customer_phone ON sync_jobs ({PHONE_EXPRESSION})")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.drop_index("ix_sync_jobs_customer_phone", "sync_jobs")
        op.drop_index("ix_sync_jobs_customer_email", "sync_jobs")
    op.drop_index("ix_customer_links_pos_any_tenant", "customer_links")
    op.drop_index("ix_sync_jobs_subject_any_tenant", "sync_jobs")
    op.drop_index("ix_sync_jobs_ambiguous_newest", "sync_jobs")
    op.drop_index("ix_sync_jobs_ambiguous", "sync_jobs")
    op.drop_index("ix_sync_jobs_failed", "sync_jobs")
    op.drop_index("ix_sync_jobs_failed_newest", "sync_jobs")
    op.drop_index("ix_sync_jobs_tenant_finished", "sync_jobs")
    op.drop_index("ix_console_actions_customer", "console_actions")
    op.drop_table("console_actions")
