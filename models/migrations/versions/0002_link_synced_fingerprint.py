"""customer_links.synced_fingerprint: what possync last synced from Shopify to the linked POS customer

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


def downgrade() -> None:
    op.drop_column("customer_links", "synced_fingerprint")
