"""demand forecasts (issue 11 §5): lead time and minimum stock per product, the fill
rate suggestions plan for, and the nightly forecast and reorder suggestion per product-store pair

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06 21:40:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from app.db.types import UTCDateTime

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("products") as batch:
        batch.add_column(
            sa.Column("lead_time_days", sa.Integer(), nullable=False, server_default="7")
        )
        batch.add_column(sa.Column("min_stock", sa.Integer(), nullable=True))
    with op.batch_alter_table("business_settings") as batch:
        batch.add_column(
            sa.Column("forecast_service_level", sa.Float(), nullable=False, server_default="0.95")
        )
    op.create_table(
        "demand_forecasts",
        sa.Column(
            "product_id",
            sa.Uuid(),
            sa.ForeignKey("products.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column(
            "store_id", sa.Uuid(), sa.ForeignKey("stores.id", ondelete="CASCADE"), primary_key=True
        ),
        sa.Column("first_day", sa.Date(), nullable=False),
        sa.Column("method", sa.String(32), nullable=False),
        sa.Column("points", sa.JSON(), nullable=False),
        sa.Column("mase", sa.Float(), nullable=True),
        sa.Column("seasonal_naive_mase", sa.Float(), nullable=True),
        sa.Column("on_hand", sa.Integer(), nullable=False),
        sa.Column("forecast_demand", sa.Float(), nullable=False),
        sa.Column("safety_stock", sa.Float(), nullable=False),
        sa.Column("suggested_quantity", sa.Integer(), nullable=False),
        sa.Column("computed_at", UTCDateTime(), nullable=False),
    )
    op.create_index(
        "ix_demand_forecasts_store_suggested",
        "demand_forecasts",
        ["store_id", "suggested_quantity"],
    )


def downgrade() -> None:
    op.drop_index("ix_demand_forecasts_store_suggested", table_name="demand_forecasts")
    op.drop_table("demand_forecasts")
    with op.batch_alter_table("business_settings") as batch:
        batch.drop_column("forecast_service_level")
    with op.batch_alter_table("products") as batch:
        batch.drop_column("min_stock")
        batch.drop_column("lead_time_days")
