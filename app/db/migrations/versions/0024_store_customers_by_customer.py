"""an index on store_customers by customer: finding the stores that hold a customer (every
change to a customer does, a sale too) scanned the whole feed table, keyed by store first

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-07 05:30:00.000000
"""

from __future__ import annotations

from alembic import op

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_store_customers_customer", "store_customers", ["customer_id"])


def downgrade() -> None:
    op.drop_index("ix_store_customers_customer", table_name="store_customers")
