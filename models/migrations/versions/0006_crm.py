"""crm: the Freshworks CRM destination (SPEC section 10)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07 14:00:00

A tenant may have a CRM beside its POS or instead of it (`pos_kind` becomes nullable); contacts are
linked per Shopify customer with the fingerprint of what possync last wrote; the connect check and the
backfill keep their state per tenant.
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("tenants") as batch:
        batch.alter_column("pos_kind", existing_type=sa.String(length=32), nullable=True)
        batch.add_column(sa.Column("crm_kind", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("crm_config", _JSON, nullable=True))
        batch.add_column(sa.Column("crm_secrets", sa.Text(), nullable=True))
    op.create_table(
        "crm_links",
        sa.Column("id", _ID, nullable=False),
        sa.Column("tenant_id", _ID, nullable=False),
        sa.Column("shopify_customer_id", sa.String(length=64), nullable=False),
        sa.Column("contact_id", sa.String(length=64), nullable=False),
        sa.Column("written_fingerprint", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], name=op.f("fk_crm_links_tenant_id_tenants"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_crm_links")),
        sa.UniqueConstraint("tenant_id", "shopify_customer_id",
                            name=op.f("uq_crm_links_tenant_id_shopify_customer_id")),
    )
    op.create_table(
        "crm_state",
        sa.Column("tenant_id", _ID, nullable=False),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("fields", _JSON, nullable=False),
        sa.Column("missing", _JSON, nullable=False),
        sa.Column("check_error", sa.Text(), nullable=True),
        sa.Column("backfill_status", sa.String(length=16), nullable=True),
        sa.Column("backfill_cursor", sa.Text(), nullable=True),
        sa.Column("backfill_done", sa.Integer(), nullable=False),
        sa.Column("backfill_total", sa.Integer(), nullable=True),
        sa.Column("backfill_started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("backfill_finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("backfill_error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], name=op.f("fk_crm_state_tenant_id_tenants"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("tenant_id", name=op.f("pk_crm_state")),
    )


def downgrade() -> None:
    op.drop_table("crm_state")
    op.drop_table("crm_links")
    with op.batch_alter_table("tenants") as batch:
        batch.drop_column("crm_secrets")
        batch.drop_column("crm_config")
        batch.drop_column("crm_kind")
        batch.alter_column("pos_kind", existing_type=sa.String(length=32), nullable=False)
