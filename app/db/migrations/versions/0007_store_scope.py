"""store scope: STORE_ALL for the roles that ran the whole chain

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29 04:10:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

# Roles that set up the chain (staff, stores, settings) are head-office and admin roles:
# they keep acting at every store. Every other role is bound to its user's home store
# from now on (issue 9), which is the hole this closes.
CHAIN_WIDE = {"STAFF_MANAGE", "SETTINGS_MANAGE"}

roles = sa.table(
    "roles",
    sa.column("id", sa.Uuid()),
    sa.column("name", sa.String()),
    sa.column("permissions", sa.JSON()),
)


def upgrade() -> None:
    bind = op.get_bind()
    rows = bind.execute(sa.select(roles.c.id, roles.c.name, roles.c.permissions)).all()
    for role_id, name, permissions in rows:
        held = set(permissions or ())
        if (held & CHAIN_WIDE or name == "Administrator") and "STORE_ALL" not in held:
            bind.execute(
                roles.update()
                .where(roles.c.id == role_id)
                .values(permissions=[*(permissions or ()), "STORE_ALL"])
            )


def downgrade() -> None:
    bind = op.get_bind()
    for role_id, permissions in bind.execute(sa.select(roles.c.id, roles.c.permissions)).all():
        if "STORE_ALL" in (permissions or ()):
            bind.execute(
                roles.update()
                .where(roles.c.id == role_id)
                .values(permissions=[p for p in permissions if p != "STORE_ALL"])
            )
