"""SMS credits (issue 10 §2): a balance row, a ledger, held credits per notification

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06 19:05:00.000000

The starting balance: a new database starts at 0 (the shop buys credits, or `poscrm
seed-demo` tops the demo up). A database that has already queued SMS is a shop that was
sending them for free until now; to start it at 0 would silently skip its next
registration SMS, so it gets an opening top-up of OPENING_GRANT segments, written to the
ledger with a reference that says why, and visible in `smsCredits`.
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

import app.db.types

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

OPENING_GRANT = 1000
OPENING_REFERENCE = "opening balance: this shop sent SMS before credits (migration 0011)"

balance = sa.table(
    "sms_credit_balance",
    sa.column("id", sa.Integer()),
    sa.column("available", sa.Integer()),
    sa.column("reserved", sa.Integer()),
    sa.column("updated_at", app.db.types.UTCDateTime(timezone=True)),
)
ledger = sa.table(
    "sms_credit_ledger",
    sa.column("kind", sa.String()),
    sa.column("segments", sa.Integer()),
    sa.column("reference", sa.String()),
    sa.column("actor_label", sa.String()),
    sa.column("at", app.db.types.UTCDateTime(timezone=True)),
)
notifications = sa.table("notifications", sa.column("channel", sa.String()))


def upgrade() -> None:
    op.create_table(
        "sms_credit_balance",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("available", sa.Integer(), nullable=False),
        sa.Column("reserved", sa.Integer(), nullable=False),
        sa.Column("updated_at", app.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "available >= 0", name=op.f("ck_sms_credit_balance_available_not_negative")
        ),
        sa.CheckConstraint(
            "reserved >= 0", name=op.f("ck_sms_credit_balance_reserved_not_negative")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sms_credit_balance")),
    )
    op.create_table(
        "sms_credit_ledger",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("segments", sa.Integer(), nullable=False),
        sa.Column("notification_id", sa.Uuid(), nullable=True),
        sa.Column("reference", sa.String(length=200), nullable=True),
        sa.Column("actor_id", sa.String(length=64), nullable=True),
        sa.Column("actor_label", sa.String(length=200), nullable=False),
        sa.Column("at", app.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("segments > 0", name=op.f("ck_sms_credit_ledger_segments_positive")),
        sa.ForeignKeyConstraint(
            ["notification_id"],
            ["notifications.id"],
            name=op.f("fk_sms_credit_ledger_notification_id_notifications"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sms_credit_ledger")),
    )
    with op.batch_alter_table("sms_credit_ledger", schema=None) as batch_op:
        batch_op.create_index(
            "ix_sms_credit_ledger_notification", ["notification_id"], unique=False
        )
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("sms_credits", sa.Integer(), server_default="0", nullable=False)
        )
    with op.batch_alter_table("business_settings", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "sms_credit_warning_threshold",
                sa.Integer(),
                server_default="100",
                nullable=False,
            )
        )

    bind = op.get_bind()
    now = datetime.now(UTC)
    sent_sms = bind.execute(
        sa.select(sa.func.count())
        .select_from(notifications)
        .where(notifications.c.channel == "SMS")
    ).scalar_one()
    opening = OPENING_GRANT if sent_sms else 0
    bind.execute(balance.insert().values(id=1, available=opening, reserved=0, updated_at=now))
    if opening:
        bind.execute(
            ledger.insert().values(
                kind="TOP_UP",
                segments=opening,
                reference=OPENING_REFERENCE,
                actor_label="system",
                at=now,
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("business_settings", schema=None) as batch_op:
        batch_op.drop_column("sms_credit_warning_threshold")
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.drop_column("sms_credits")
    with op.batch_alter_table("sms_credit_ledger", schema=None) as batch_op:
        batch_op.drop_index("ix_sms_credit_ledger_notification")
    op.drop_table("sms_credit_ledger")
    op.drop_table("sms_credit_balance")
