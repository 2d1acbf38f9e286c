"""Migration 0003: `poll_cursors.cursor` holds any cursor an adapter writes, and going back is clean."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import command

from possync.models.migrate import alembic_config, upgrade


def test_the_cursor_column_is_text_and_downgrades_without_a_half_written_row(sqlite_url: str) -> None:
    engine = sa.create_engine(sqlite_url)
    long_cursor, short_cursor = "x" * 2000, "y" * 40
    with engine.begin() as conn:
        assert isinstance(sa.inspect(conn).get_columns("poll_cursors")[1]["type"], sa.Text)
        for tenant_id, name in ((1, "a"), (2, "b")):
            conn.execute(sa.text("INSERT INTO tenants (id, name, account_name, shop_domain, pos_kind, shopify_config,"
                                 " pos_config, settings, shopify_secrets, pos_secrets, created_at, updated_at) VALUES "
                                 "(:i, :n, 'x', :n, 'heartland', '{}', '{}', '{}', 'x', 'x', '2026-01-01', "
                                 "'2026-01-01')"), {"i": tenant_id, "n": name})
        conn.execute(sa.text("INSERT INTO poll_cursors (tenant_id, cursor) VALUES (1, :c), (2, :s)"),
                     {"c": long_cursor, "s": short_cursor})
    command.downgrade(alembic_config(sqlite_url), "0002")
    with engine.begin() as conn:
        rows = dict(conn.execute(sa.text("SELECT tenant_id, cursor FROM poll_cursors")).all())
    assert rows == {1: None, 2: short_cursor}  # a cursor that no longer fits starts that poll afresh
    upgrade(sqlite_url)
    engine.dispose()
