"""Links remember what was last synced and whether their email contradicted (rule 10); near matches

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-07 11:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("customer_links", sa.Column("synced_fingerprint", sa.String(length=64), nullable=True))
    op.add_column("customer_links", sa.Column("contradicted", sa.Boolean(), nullable=True))
    op.create_table(
        "near_matches",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("tenant_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("direction", sa.String(length=24), nullable=False),
        sa.Column("shopify_customer_id", sa.String(length=64), nullable=False),
        sa.Column("pos_customer_id", sa.String(length=64), nullable=False),
        sa.Column("matched_on", sa.String(length=16), nullable=False),
        sa.Column("differs", sa.String(length=16), nullable=False),
        sa.Column("decision", sa.String(length=16), nullable=False),
        sa.Column("job_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE",
                                name="fk_near_matches_tenant_id_tenants"),
        sa.ForeignKeyConstraint(["job_id"], ["sync_jobs.id"], ondelete="SET NULL",
                                name="fk_near_matches_job_id_sync_jobs"),
        sa.PrimaryKeyConstraint("id", name="pk_near_matches"),
        sa.UniqueConstraint("tenant_id", "direction", "shopify_customer_id", "pos_customer_id",
                            name="uq_near_matches_pair"),
    )


def downgrade() -> None:
    op.drop_table("near_matches")
    op.drop_column("customer_links", "contradicted")
    op.drop_column("customer_links", "synced_fingerprint")
