"""poll_cursors.cursor as text

A change cursor is bounded by the adapters (SPEC rule 35), but an R-Series one carries the vendor's
next-page URL as given; 255 characters was too tight a belt for that.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-07 11:10:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("poll_cursors") as batch:
        batch.alter_column("cursor", type_=sa.Text(), existing_type=sa.String(length=255), existing_nullable=True)


def downgrade() -> None:
    # A cursor longer than 255 characters cannot go back: start that tenant's poll afresh instead.
    op.execute("UPDATE poll_cursors SET cursor = NULL WHERE length(cursor) > 255")
    with op.batch_alter_table("poll_cursors") as batch:
        batch.alter_column("cursor", type_=sa.String(length=255), existing_type=sa.Text(), existing_nullable=True)
