"""shipstation: the tenant's ShipStation block and its customers as read (SPEC section 11)

Revision ID: 0008
Revises: 0005
Create Date: 2026-12-07 14:15:00
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0008"
down_revision = "0006"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSON = sa.JSON().with_variant(JSONB(), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("tenants") as batch:
        batch.add_column(sa.Column("shipstation_config", JSON, nullable=True))
        batch.add_column(sa.Column("shipstation_secrets", sa.Text(), nullable=True))
    op.create_table(
        "shipstation_customers",
        sa.Column("id", ID, nullable=False),
        sa.Column("tenant_id", ID, nullable=False),
        sa.Column("customer_id", sa.String(length=32), nullable=False),
        sa.Column("shopify_customer_id", sa.String(length=64), nullable=True),
        sa.Column("manual_username", sa.String(length=320), nullable=True),
        sa.Column("store_imported", sa.Boolean(), nullable=False),
        sa.Column("email_key", sa.String(length=320), nullable=True),
        sa.Column("phone_key", sa.String(length=32), nullable=True),
        sa.Column("address_key", sa.String(length=512), nullable=True),
        sa.Column("modify_date", sa.DateTime(timezone=True), nullable=True),
        sa.Column("record", JSON, nullable=False),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], name=op.f("fk_shipstation_customers_tenant_id_tenants"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shipstation_customers")),
        sa.UniqueConstraint("tenant_id", "customer_id", name=op.f("uq_shipstation_customers_tenant_id_customer_id")),
    )
    for name, column in (("shopify", "shopify_customer_id"), ("username", "manual_username"),
                         ("email", "email_key"), ("address", "address_key")):
        op.create_index(f"ix_shipstation_customers_{name}", "shipstation_customers", ["tenant_id", column])
    op.create_table(
        "shipstation_reads",
        sa.Column("tenant_id", ID, nullable=False),
        sa.Column("modified_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("tags", JSON, nullable=False),
        sa.Column("last_read_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("customers_read", sa.Integer(), nullable=False),
        sa.Column("requests", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], name=op.f("fk_shipstation_reads_tenant_id_tenants"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("tenant_id", name=op.f("pk_shipstation_reads")),
    )


def downgrade() -> None:
    op.drop_table("shipstation_reads")
    op.drop_table("shipstation_customers")
    with op.batch_alter_table("tenants") as batch:
        batch.drop_column("shipstation_secrets")
        batch.drop_column("shipstation_config")
