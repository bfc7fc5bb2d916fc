"""loyalty tiers (issue 13, seed 003's membership plans): the tiers a business defines,
and the one each customer holds now

Revision ID: 0027_loyalty_tiers
Revises: 0026_loyalty_switch
Create Date: 2026-12-07 12:40:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import app.db.types

revision = "0027_loyalty_tiers"
down_revision = "0026_loyalty_switch"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "loyalty_tiers",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("name_key", sa.String(length=100), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column("basis", sa.String(length=8), nullable=False),
        sa.Column("threshold", app.db.types.Money(precision=14, scale=2), nullable=False),
        sa.Column("window_days", sa.Integer(), nullable=False),
        sa.Column("points_multiplier", app.db.types.Percent(precision=5, scale=2), nullable=False),
        sa.Column("discount_percent", app.db.types.Percent(precision=5, scale=2), nullable=True),
        sa.Column("created_at", app.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", app.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_loyalty_tiers")),
        sa.UniqueConstraint("name_key", name=op.f("uq_loyalty_tiers_name_key")),
        sa.UniqueConstraint("rank", name=op.f("uq_loyalty_tiers_rank")),
    )
    op.create_table(
        "customer_loyalty_tiers",
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("tier_id", sa.Uuid(), nullable=False),
        sa.Column("since", app.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_customer_loyalty_tiers_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tier_id"],
            ["loyalty_tiers.id"],
            name=op.f("fk_customer_loyalty_tiers_tier_id_loyalty_tiers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("customer_id", name=op.f("pk_customer_loyalty_tiers")),
    )
    op.create_index(
        op.f("ix_customer_loyalty_tiers_tier_id"),
        "customer_loyalty_tiers",
        ["tier_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_customer_loyalty_tiers_tier_id"), table_name="customer_loyalty_tiers")
    op.drop_table("customer_loyalty_tiers")
    op.drop_table("loyalty_tiers")
