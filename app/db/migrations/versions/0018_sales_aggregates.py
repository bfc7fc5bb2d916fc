"""daily sales aggregates and customer segments (issue 11 §2-§4)

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-06 21:08:11.169843

The aggregate tables start empty: `poscrm rebuild-aggregates` fills them from the sales
already recorded (docs/analytics.md), and the nightly job keeps them from then on. Sales
completed before this migration carry no segment (their SEGMENT in reports is null).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import app.db.types

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "segment_cuts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("frequency", sa.JSON(), nullable=False),
        sa.Column("monetary_cents", sa.JSON(), nullable=False),
        sa.Column("computed_at", app.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_segment_cuts")),
    )
    op.create_table(
        "sales_daily",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("store_id", sa.Uuid(), nullable=False),
        sa.Column("product_id", sa.Uuid(), nullable=False),
        sa.Column("units", sa.Integer(), nullable=False),
        sa.Column("revenue_cents", sa.BigInteger(), nullable=False),
        sa.Column("discount_cents", sa.BigInteger(), nullable=False),
        sa.Column("sales", sa.Integer(), nullable=False),
        sa.Column("returned_units", sa.Integer(), nullable=False),
        sa.Column("returned_cents", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("day", "store_id", "product_id", name=op.f("pk_sales_daily")),
    )
    with op.batch_alter_table("sales_daily", schema=None) as batch_op:
        batch_op.create_index(
            "ix_sales_daily_series", ["product_id", "store_id", "day"], unique=False
        )

    op.create_table(
        "sales_daily_discounts",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("store_id", sa.Uuid(), nullable=False),
        sa.Column("cashier_id", sa.Uuid(), nullable=True),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("sales", sa.Integer(), nullable=False),
        sa.Column("discount_cents", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sales_daily_discounts")),
    )
    with op.batch_alter_table("sales_daily_discounts", schema=None) as batch_op:
        batch_op.create_index(
            "ix_sales_daily_discounts_day_store", ["day", "store_id"], unique=False
        )

    op.create_table(
        "sales_daily_mix",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("store_id", sa.Uuid(), nullable=False),
        sa.Column("cashier_id", sa.Uuid(), nullable=True),
        sa.Column("payment", sa.String(length=8), nullable=False),
        sa.Column("segment", sa.String(length=8), nullable=True),
        sa.Column("sales", sa.Integer(), nullable=False),
        sa.Column("units", sa.Integer(), nullable=False),
        sa.Column("revenue_cents", sa.BigInteger(), nullable=False),
        sa.Column("discount_cents", sa.BigInteger(), nullable=False),
        sa.Column("points_redeemed", sa.BigInteger(), nullable=False),
        sa.Column("returned_cents", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sales_daily_mix")),
    )
    with op.batch_alter_table("sales_daily_mix", schema=None) as batch_op:
        batch_op.create_index("ix_sales_daily_mix_day_store", ["day", "store_id"], unique=False)

    op.create_table(
        "sales_dirty_days",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("store_id", sa.Uuid(), nullable=False),
        sa.Column("mark", sa.Uuid(), nullable=False),
        sa.Column("marked_at", app.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["store_id"], ["stores.id"], name=op.f("fk_sales_dirty_days_store_id_stores")
        ),
        sa.PrimaryKeyConstraint("day", "store_id", name=op.f("pk_sales_dirty_days")),
    )
    op.create_table(
        "customer_daily",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("store_id", sa.Uuid(), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("sales", sa.Integer(), nullable=False),
        sa.Column("revenue_cents", sa.BigInteger(), nullable=False),
        sa.Column("returned_cents", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("day", "store_id", "customer_id", name=op.f("pk_customer_daily")),
    )

    op.create_table(
        "customer_segments",
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("segment", sa.String(length=8), nullable=False),
        sa.Column("updated_at", app.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_customer_segments_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("customer_id", name=op.f("pk_customer_segments")),
    )
    with op.batch_alter_table("customer_segments", schema=None) as batch_op:
        batch_op.create_index(
            "ix_customer_segments_segment", ["segment", "customer_id"], unique=False
        )

    with op.batch_alter_table("business_settings", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("segment_window_days", sa.Integer(), server_default="365", nullable=False)
        )
        batch_op.add_column(
            sa.Column("segment_at_risk_days", sa.Integer(), server_default="90", nullable=False)
        )
        batch_op.add_column(
            sa.Column("segment_lapsed_days", sa.Integer(), server_default="180", nullable=False)
        )
        batch_op.add_column(
            sa.Column("segment_loyal_quintile", sa.Integer(), server_default="4", nullable=False)
        )

    with op.batch_alter_table("sales", schema=None) as batch_op:
        batch_op.add_column(sa.Column("customer_segment", sa.String(length=8), nullable=True))
        # ix_sales_completed came with the discount audit (0016).
        batch_op.create_index(
            "ix_sales_store_completed", ["store_id", "completed_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("sales", schema=None) as batch_op:
        batch_op.drop_index("ix_sales_store_completed")
        batch_op.drop_column("customer_segment")

    with op.batch_alter_table("business_settings", schema=None) as batch_op:
        batch_op.drop_column("segment_loyal_quintile")
        batch_op.drop_column("segment_lapsed_days")
        batch_op.drop_column("segment_at_risk_days")
        batch_op.drop_column("segment_window_days")

    with op.batch_alter_table("customer_segments", schema=None) as batch_op:
        batch_op.drop_index("ix_customer_segments_segment")

    op.drop_table("customer_segments")
    op.drop_table("customer_daily")
    op.drop_table("sales_dirty_days")
    with op.batch_alter_table("sales_daily_mix", schema=None) as batch_op:
        batch_op.drop_index("ix_sales_daily_mix_day_store")

    op.drop_table("sales_daily_mix")
    with op.batch_alter_table("sales_daily_discounts", schema=None) as batch_op:
        batch_op.drop_index("ix_sales_daily_discounts_day_store")

    op.drop_table("sales_daily_discounts")
    with op.batch_alter_table("sales_daily", schema=None) as batch_op:
        batch_op.drop_index("ix_sales_daily_series")

    op.drop_table("sales_daily")
    op.drop_table("segment_cuts")
