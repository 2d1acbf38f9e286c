"""onboarding: the POS import of each tenant (SPEC rule 34)

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07 11:00:00

Tenants that exist when this runs get a pending import: their index was filled only by polls and
syncs, which is how customers with stray blanks in their email or a till-formatted phone got
duplicated. Their creates wait until the import (started by beat or by a job) is complete.
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "pos_imports",
        sa.Column("tenant_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("pos_account", sa.String(length=512), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("cursor", sa.Text(), nullable=True),
        sa.Column("pages_read", sa.Integer(), nullable=False),
        sa.Column("customers_read", sa.Integer(), nullable=False),
        sa.Column("vendor_total", sa.Integer(), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_pos_imports_tenant_id_tenants"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("tenant_id", name=op.f("pk_pos_imports")),
    )
    # pos_account NULL: the first `tenant apply` records the account without starting again.
    op.execute(
        "INSERT INTO pos_imports (tenant_id, status, pages_read, customers_read, updated_at) "
        "SELECT id, 'pending', 0, 0, CURRENT_TIMESTAMP FROM tenants"
    )


def downgrade() -> None:
    op.drop_table("pos_imports")
