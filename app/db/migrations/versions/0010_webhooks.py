"""signed webhooks (issue 10 §5): endpoints, deliveries, and WEBHOOK_MANAGE

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 17:55:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import app.db.types

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

# Webhooks send the shop's events out of the building: the roles that run the shop's
# set-up (SETTINGS_MANAGE, which DESIGN.md §3b named for webhooks first) and the
# administrator get the new permission; no other role gains anything.
GRANTED_WITH = "SETTINGS_MANAGE"
NEW = "WEBHOOK_MANAGE"

roles = sa.table(
    "roles",
    sa.column("id", sa.Uuid()),
    sa.column("name", sa.String()),
    sa.column("permissions", sa.JSON()),
)


def upgrade() -> None:
    op.create_table(
        "webhook_endpoints",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("url", sa.String(length=2000), nullable=False),
        sa.Column("events", sa.JSON(), nullable=False),
        sa.Column("secret", sa.String(length=100), nullable=False),
        sa.Column("is_active", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("disabled_reason", sa.Text(), nullable=True),
        sa.Column("consecutive_failures", sa.Integer(), server_default="0", nullable=False),
        sa.Column("created_at", app.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", app.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_endpoints")),
    )
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("endpoint_id", sa.Uuid(), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("event", sa.String(length=40), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_status_code", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", app.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", app.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["endpoint_id"],
            ["webhook_endpoints.id"],
            name=op.f("fk_webhook_deliveries_endpoint_id_webhook_endpoints"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_deliveries")),
    )
    with op.batch_alter_table("webhook_deliveries", schema=None) as batch_op:
        batch_op.create_index(
            "ix_webhook_deliveries_endpoint", ["endpoint_id", "created_at"], unique=False
        )

    bind = op.get_bind()
    for role_id, name, permissions in bind.execute(
        sa.select(roles.c.id, roles.c.name, roles.c.permissions)
    ).all():
        held = list(permissions or ())
        if (GRANTED_WITH in held or name == "Administrator") and NEW not in held:
            bind.execute(
                roles.update().where(roles.c.id == role_id).values(permissions=[*held, NEW])
            )


def downgrade() -> None:
    bind = op.get_bind()
    for role_id, permissions in bind.execute(sa.select(roles.c.id, roles.c.permissions)).all():
        if NEW in (permissions or ()):
            bind.execute(
                roles.update()
                .where(roles.c.id == role_id)
                .values(permissions=[p for p in permissions if p != NEW])
            )
    with op.batch_alter_table("webhook_deliveries", schema=None) as batch_op:
        batch_op.drop_index("ix_webhook_deliveries_endpoint")
    op.drop_table("webhook_deliveries")
    op.drop_table("webhook_endpoints")
