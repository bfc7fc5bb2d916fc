"""customer profile pictures (issue 13, seed 004): re-encoded JPEGs, one row per size

Revision ID: 0025_customer_photos
Revises: 0024
Create Date: 2026-12-07 12:40:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import app.db.types

revision = "0025_customer_photos"
down_revision = "0024"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "customer_photos",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("size", sa.String(length=8), nullable=False),
        sa.Column("content_type", sa.String(length=32), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", app.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "size IN ('LARGE', 'SMALL')", name=op.f("ck_customer_photos_size_known")
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_customer_photos_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer_photos")),
        sa.UniqueConstraint("customer_id", "size", name="uq_customer_photos_customer_id_size"),
    )


def downgrade() -> None:
    op.drop_table("customer_photos")
