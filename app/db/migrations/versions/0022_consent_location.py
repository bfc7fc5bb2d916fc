"""consent changes record where they were made (issue 13, seed 003): the store and till

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-07 05:05:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None

TABLES = ("marketing_consent_history", "marketing_consents")


def upgrade() -> None:
    # Earlier changes stay without a place: where they were made was never recorded.
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("store_id", sa.Uuid(), nullable=True))
            batch.add_column(sa.Column("till_id", sa.Uuid(), nullable=True))
            batch.create_foreign_key(
                batch.f(f"fk_{table}_store_id_stores"), "stores", ["store_id"], ["id"]
            )
            batch.create_foreign_key(
                batch.f(f"fk_{table}_till_id_tills"), "tills", ["till_id"], ["id"]
            )


def downgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_constraint(batch.f(f"fk_{table}_till_id_tills"), type_="foreignkey")
            batch.drop_constraint(batch.f(f"fk_{table}_store_id_stores"), type_="foreignkey")
            batch.drop_column("till_id")
            batch.drop_column("store_id")
