"""discount-usage audit (issue 11 §6): findings, the scan's watermark, sales by completion

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06 21:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import app.db.types

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "discount_audit_findings",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("rule", sa.String(length=32), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("severity", sa.String(length=8), nullable=False),
        sa.Column("status", sa.String(length=16), server_default="OPEN", nullable=False),
        sa.Column("explanation", sa.Text(), nullable=False),
        sa.Column("sale_id", sa.Uuid(), nullable=True),
        sa.Column("customer_id", sa.Uuid(), nullable=True),
        sa.Column("cashier_id", sa.Uuid(), nullable=True),
        sa.Column("store_id", sa.Uuid(), nullable=True),
        sa.Column("amount", app.db.types.Money(precision=14, scale=2), nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("detected_at", app.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("triaged_by", sa.String(length=200), nullable=True),
        sa.Column("triaged_at", app.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["sale_id"], ["sales.id"], name=op.f("fk_discount_audit_findings_sale_id_sales")
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_discount_audit_findings_customer_id_customers"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["cashier_id"],
            ["staff_users.id"],
            name=op.f("fk_discount_audit_findings_cashier_id_staff_users"),
        ),
        sa.ForeignKeyConstraint(
            ["store_id"], ["stores.id"], name=op.f("fk_discount_audit_findings_store_id_stores")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_discount_audit_findings")),
    )
    with op.batch_alter_table("discount_audit_findings", schema=None) as batch_op:
        batch_op.create_index(
            "uq_discount_audit_findings_subject", ["rule", "subject"], unique=True
        )
        batch_op.create_index(
            "ix_discount_audit_findings_detected", ["detected_at", "id"], unique=False
        )
        batch_op.create_index(
            "ix_discount_audit_findings_store", ["store_id", "detected_at", "id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_discount_audit_findings_sale_id"), ["sale_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_discount_audit_findings_customer_id"), ["customer_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_discount_audit_findings_cashier_id"), ["cashier_id"], unique=False
        )
    # The scan reads sales completed since its watermark, every hour.
    with op.batch_alter_table("sales", schema=None) as batch_op:
        batch_op.create_index("ix_sales_completed", ["completed_at"], unique=False)
    op.create_table(
        "discount_audit_watermark",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("scanned_through", app.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_discount_audit_watermark")),
    )


def downgrade() -> None:
    op.drop_table("discount_audit_watermark")
    with op.batch_alter_table("sales", schema=None) as batch_op:
        batch_op.drop_index("ix_sales_completed")
    op.drop_table("discount_audit_findings")
