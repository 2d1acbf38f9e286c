"""inbound_events.sender_event_id: de-duplicate deliveries on X-Shopify-Event-Id too

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07 11:20:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("inbound_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sender_event_id", sa.String(length=128), nullable=True))
        batch_op.create_index("ux_inbound_events_sender_event", ["tenant_id", "source", "topic", "sender_event_id"],
                              unique=True)


def downgrade() -> None:
    with op.batch_alter_table("inbound_events", schema=None) as batch_op:
        batch_op.drop_index("ux_inbound_events_sender_event")
        batch_op.drop_column("sender_event_id")
