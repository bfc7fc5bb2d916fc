"""each customer's units kept per product, for top products without the history (issue 12)

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-07 04:20:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None

# What the screen computed from the whole history until now, once.
BACKFILL = (
    "INSERT INTO customer_product_units (customer_id, product_id, units)"
    " SELECT s.customer_id, l.product_id, SUM(l.quantity - l.returned_quantity)"
    " FROM sale_lines l JOIN sales s ON s.id = l.sale_id"
    " WHERE s.status = 'COMPLETED' AND s.customer_id IS NOT NULL"
    " GROUP BY s.customer_id, l.product_id"
)


def upgrade() -> None:
    op.create_table(
        "customer_product_units",
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("product_id", sa.Uuid(), nullable=False),
        sa.Column("units", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_customer_product_units_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["product_id"],
            ["products.id"],
            name=op.f("fk_customer_product_units_product_id_products"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "customer_id", "product_id", name=op.f("pk_customer_product_units")
        ),
    )
    op.execute(BACKFILL)
    op.create_index(
        "uq_sale_discounts_applied",
        "sale_discounts",
        ["sale_id"],
        unique=True,
        sqlite_where=sa.text("applied"),
        postgresql_where=sa.text("applied"),
    )


def downgrade() -> None:
    op.drop_index("uq_sale_discounts_applied", table_name="sale_discounts")
    op.drop_table("customer_product_units")
