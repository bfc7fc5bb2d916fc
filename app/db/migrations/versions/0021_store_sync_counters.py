"""a change counter per store instead of one for the whole chain (issue 12)

Every store's counter starts at the old chain-wide value: a till's cursor is a number
at most that value, and every number handed out from now on is larger, so no cursor
goes backwards or skips a change across the upgrade. Stores created later start at 0.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-07 04:20:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "store_sync_counters",
        sa.Column("store_id", sa.Uuid(), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["store_id"],
            ["stores.id"],
            name=op.f("fk_store_sync_counters_store_id_stores"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("store_id", name=op.f("pk_store_sync_counters")),
    )
    op.execute(
        "INSERT INTO store_sync_counters (store_id, value) "
        "SELECT stores.id, COALESCE((SELECT value FROM sync_counter WHERE id = 1), 0) "
        "FROM stores"
    )
    op.drop_table("sync_counter")


def downgrade() -> None:
    op.create_table(
        "sync_counter",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sync_counter")),
    )
    # The largest number of any store: the one counter then continues above every cursor.
    op.execute(
        "INSERT INTO sync_counter (id, value) "
        "SELECT 1, COALESCE(MAX(value), 0) FROM store_sync_counters"
    )
    op.drop_table("store_sync_counters")
