"""marketing sends and unsubscribe (issue 10 §4): campaigns, their notifications, a signing key

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06 21:00:00.000000

The signing key of unsubscribe tokens is made here, once, from the operating system's
random source: every process then reads the same key from the database, and no setting
has to be shared between API processes and workers. Downgrading drops it, so links in
messages already sent stop working (a new key is made on the next upgrade).
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

import app.db.types

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

signing_key = sa.table(
    "marketing_signing_key",
    sa.column("id", sa.Integer()),
    sa.column("key", sa.String()),
    sa.column("created_at", app.db.types.UTCDateTime(timezone=True)),
)


def upgrade() -> None:
    op.create_table(
        "marketing_campaigns",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("channel", sa.String(length=8), nullable=False),
        sa.Column("group_id", sa.Uuid(), nullable=True),
        sa.Column("subject", sa.String(length=150), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("recipients", sa.Integer(), nullable=False),
        sa.Column("skipped", sa.Integer(), nullable=False),
        sa.Column("sms_segments", sa.Integer(), nullable=False),
        sa.Column("created_by_id", sa.String(length=64), nullable=True),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", app.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("fanned_out_at", app.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["customer_groups.id"],
            name=op.f("fk_marketing_campaigns_group_id_customer_groups"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_marketing_campaigns")),
    )
    op.create_table(
        "marketing_signing_key",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("created_at", app.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_marketing_signing_key")),
    )
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.add_column(sa.Column("campaign_id", sa.Uuid(), nullable=True))
        batch_op.create_index("ix_notifications_campaign_id", ["campaign_id", "id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_notifications_campaign_id_marketing_campaigns"),
            "marketing_campaigns",
            ["campaign_id"],
            ["id"],
            ondelete="SET NULL",
        )
    op.get_bind().execute(
        signing_key.insert().values(id=1, key=secrets.token_hex(32), created_at=datetime.now(UTC))
    )


def downgrade() -> None:
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_notifications_campaign_id_marketing_campaigns"), type_="foreignkey"
        )
        batch_op.drop_index("ix_notifications_campaign_id")
        batch_op.drop_column("campaign_id")
    op.drop_table("marketing_signing_key")
    op.drop_table("marketing_campaigns")
