"""notification scenarios per channel (issue 10 §3): email and SMS switched on apart

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06 20:55:00.000000

Until now a scenario was on for both channels at once (the registration message went by
SMS only where there was no email). Each channel keeps what was on, and the scenarios new
in this release are switched on for both: the password reset, the unsubscribe
confirmation and marketing. SMS ones cost credits, and a new shop starts with none, so
nothing is spent until the owner buys credits (seed 003 "My SMS").
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

NEW_SCENARIOS = ["MARKETING", "PASSWORD_RESET", "UNSUBSCRIBE"]

settings = sa.table(
    "business_settings",
    sa.column("id", sa.Integer()),
    sa.column("notification_scenarios", sa.JSON()),
    sa.column("email_scenarios", sa.JSON()),
    sa.column("sms_scenarios", sa.JSON()),
)


def upgrade() -> None:
    with op.batch_alter_table("business_settings") as batch:
        batch.add_column(sa.Column("email_scenarios", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("sms_scenarios", sa.JSON(), nullable=True))
    bind = op.get_bind()
    for row_id, current in bind.execute(
        sa.select(settings.c.id, settings.c.notification_scenarios)
    ):
        on = sorted(set(current or []) | set(NEW_SCENARIOS))
        bind.execute(
            settings.update()
            .where(settings.c.id == row_id)
            .values(email_scenarios=on, sms_scenarios=on)
        )
    with op.batch_alter_table("business_settings") as batch:
        batch.alter_column("email_scenarios", existing_type=sa.JSON(), nullable=False)
        batch.alter_column("sms_scenarios", existing_type=sa.JSON(), nullable=False)
        batch.drop_column("notification_scenarios")


def downgrade() -> None:
    with op.batch_alter_table("business_settings") as batch:
        batch.add_column(sa.Column("notification_scenarios", sa.JSON(), nullable=True))
    bind = op.get_bind()
    rows = bind.execute(
        sa.select(settings.c.id, settings.c.email_scenarios, settings.c.sms_scenarios)
    )
    for row_id, email, sms in rows:
        known = {"REGISTRATION"}
        on = sorted((set(email or []) | set(sms or [])) & known)
        bind.execute(
            settings.update().where(settings.c.id == row_id).values(notification_scenarios=on)
        )
    with op.batch_alter_table("business_settings") as batch:
        batch.alter_column("notification_scenarios", existing_type=sa.JSON(), nullable=False)
        batch.drop_column("email_scenarios")
        batch.drop_column("sms_scenarios")
