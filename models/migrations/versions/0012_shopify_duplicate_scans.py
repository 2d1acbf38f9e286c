"""shopify duplicate scans: each tenant's last search for Shopify duplicates, for the console to list

Revision ID: 0012
Revises: 0010
Create Date: 2026-12-07 17:30:00

The console's matches page lists the groups the last scan found (`possync shopify duplicates`, or the
page's own Scan button run by a worker) instead of calling Shopify for every customer on each render.
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "shopify_duplicate_scans",
        sa.Column("tenant_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("groups", sa.JSON().with_variant(sa.dialects.postgresql.JSONB(), "postgresql"), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("scanned_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"],
                                name=op.f("fk_shopify_duplicate_scans_tenant_id_tenants"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("tenant_id", name=op.f("pk_shopify_duplicate_scans")),
    )


def downgrade() -> None:
    op.drop_table("shopify_duplicate_scans")
