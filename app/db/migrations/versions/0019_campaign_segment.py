"""marketing sends target a customer segment (issue 11 §3): the campaign records which

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-06 22:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("marketing_campaigns") as batch:
        batch.add_column(sa.Column("segment", sa.String(length=8), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("marketing_campaigns") as batch:
        batch.drop_column("segment")
