"""pos_index.reading: the whole POS record the import and the change poll read (issue #14)

Revision ID: 0014
Revises: 0012
Create Date: 2026-12-07 18:30:00

A Heartland update must resend the address ids and the merchant's other `custom` keys. Where the list
rows carry them, the index keeps the record as read, and a job takes it as its reading once a catch-up
begun after its event has run, instead of reading the customer by id.
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0014"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("pos_index") as batch:
        batch.add_column(sa.Column("reading", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"),
                                   nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("pos_index") as batch:
        batch.drop_column("reading")
