"""the loyalty switch (seed 004 "Enable loyalty function"): business_settings.loyalty_enabled
(on for existing shops, which keep working as before) and customers.loyalty_opt_out (a
customer who wants no points and no card discount)

Revision ID: 0027_loyalty_switch
Revises: 0025_customer_photos
Create Date: 2026-12-07 12:45:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0027_loyalty_switch"
down_revision = "0025_customer_photos"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A constant default: both dialects add the column in place, without rewriting the
    # customers table.
    op.add_column(
        "business_settings",
        sa.Column("loyalty_enabled", sa.Boolean(), server_default=sa.true(), nullable=False),
    )
    op.add_column(
        "customers",
        sa.Column("loyalty_opt_out", sa.Boolean(), server_default=sa.false(), nullable=False),
    )


def downgrade() -> None:
    with op.batch_alter_table("customers") as batch:
        batch.drop_column("loyalty_opt_out")
    with op.batch_alter_table("business_settings") as batch:
        batch.drop_column("loyalty_enabled")
