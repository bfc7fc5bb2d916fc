"""a monthly rollup of sales_daily, for product-grain reports over whole months (issue 11 §4)

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-07 00:40:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

MEASURES = (
    "units",
    "revenue_cents",
    "discount_cents",
    "sales",
    "returned_units",
    "returned_cents",
)


def upgrade() -> None:
    op.create_table(
        "sales_monthly",
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("store_id", sa.Uuid(), nullable=False),
        sa.Column("product_id", sa.Uuid(), nullable=False),
        sa.Column("units", sa.Integer(), nullable=False),
        sa.Column("revenue_cents", sa.BigInteger(), nullable=False),
        sa.Column("discount_cents", sa.BigInteger(), nullable=False),
        sa.Column("sales", sa.Integer(), nullable=False),
        sa.Column("returned_units", sa.Integer(), nullable=False),
        sa.Column("returned_cents", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("month", "store_id", "product_id", name=op.f("pk_sales_monthly")),
        sqlite_with_rowid=False,
    )
    # The daily rows already there, summed: reports read the rollup from now on.
    if op.get_bind().dialect.name == "sqlite":
        month = "strftime('%Y-%m-01', day)"
    else:
        month = "CAST(date_trunc('month', CAST(day AS TIMESTAMP)) AS DATE)"
    sums = ", ".join(f"SUM({m})" for m in MEASURES)
    op.execute(
        f"INSERT INTO sales_monthly (month, store_id, product_id, {', '.join(MEASURES)}) "  # noqa: S608
        f"SELECT {month}, store_id, product_id, {sums} FROM sales_daily "
        f"GROUP BY {month}, store_id, product_id"
    )


def downgrade() -> None:
    op.drop_table("sales_monthly")
