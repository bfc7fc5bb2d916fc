"""smaller holes (issue 9 §7): price overrides on sale lines, SALE_PRICE_OVERRIDE, and
reversed phone numbers for a last-digits search

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06 15:39:33.837232
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import app.db.types

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

# Until now any seller could price a line below the list price, even at 0. The roles
# trusted with money leaving the till (SALE_VOID: voids and refunds), with the prices
# themselves (SETTINGS_MANAGE: they set the catalogue), and the administrator keep that
# ability; every other role (a plain cashier) loses it, which is the hole this closes.
KEEPS_OVERRIDE = {"SALE_VOID", "SETTINGS_MANAGE"}


# reversed_digits() of app/db/models/customer.py, as it was when this was written.
def _reversed(phone: str) -> str | None:
    return phone[:0:-1] if phone.startswith("+") and phone[1:].isdigit() else None


BACKFILL_BATCH = 1000

roles = sa.table(
    "roles",
    sa.column("id", sa.Uuid()),
    sa.column("name", sa.String()),
    sa.column("permissions", sa.JSON()),
)


def upgrade() -> None:
    # Plain ADD COLUMNs (no foreign keys): on SQLite anything more rebuilds the table.
    with op.batch_alter_table("sale_lines", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("list_price", app.db.types.Money(precision=14, scale=2), nullable=True)
        )
        batch_op.add_column(sa.Column("price_override_by", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("price_override_staff_id", sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column("price_override_till_id", sa.Uuid(), nullable=True))

    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("phone_reversed", sa.String(length=20), nullable=True))
        batch_op.create_index("ix_customers_phone_reversed", ["phone_reversed"], unique=False)
    with op.batch_alter_table("customer_phones", schema=None) as batch_op:
        batch_op.add_column(sa.Column("phone_reversed", sa.String(length=20), nullable=True))
        batch_op.create_index("ix_customer_phones_phone_reversed", ["phone_reversed"], unique=False)
    _backfill_reversed_phones()

    bind = op.get_bind()
    rows = bind.execute(sa.select(roles.c.id, roles.c.name, roles.c.permissions)).all()
    for role_id, name, permissions in rows:
        held = set(permissions or ())
        if (held & KEEPS_OVERRIDE or name == "Administrator") and (
            "SALE_PRICE_OVERRIDE" not in held
        ):
            bind.execute(
                roles.update()
                .where(roles.c.id == role_id)
                .values(permissions=[*(permissions or ()), "SALE_PRICE_OVERRIDE"])
            )


def _backfill_reversed_phones() -> None:
    """Every stored number gets its reversed digits, so the last-digits search finds it."""
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        # One statement per table: a chain's million numbers never leave the server.
        for table in ("customers", "customer_phones"):
            op.execute(
                f"UPDATE {table} SET phone_reversed = reverse(substr(phone, 2)) "  # noqa: S608
                "WHERE phone ~ '^[+][0-9]+$'"
            )
        return
    # SQLite has no reverse(): a shop's numbers are read and written back in batches.
    for table, key in (("customers", "id"), ("customer_phones", "phone")):
        rows = sa.table(table, sa.column(key), sa.column("phone"), sa.column("phone_reversed"))
        found = bind.execute(sa.select(rows.c[key], rows.c.phone)).all()
        updates = [{"k": k, "reversed": _reversed(phone)} for k, phone in found if _reversed(phone)]
        statement = (
            rows.update()
            .where(rows.c[key] == sa.bindparam("k"))
            .values(phone_reversed=sa.bindparam("reversed"))
        )
        for start in range(0, len(updates), BACKFILL_BATCH):
            bind.execute(statement, updates[start : start + BACKFILL_BATCH])


def downgrade() -> None:
    bind = op.get_bind()
    for role_id, permissions in bind.execute(sa.select(roles.c.id, roles.c.permissions)).all():
        if "SALE_PRICE_OVERRIDE" in (permissions or ()):
            bind.execute(
                roles.update()
                .where(roles.c.id == role_id)
                .values(permissions=[p for p in permissions if p != "SALE_PRICE_OVERRIDE"])
            )
    with op.batch_alter_table("customer_phones", schema=None) as batch_op:
        batch_op.drop_index("ix_customer_phones_phone_reversed")
        batch_op.drop_column("phone_reversed")
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.drop_index("ix_customers_phone_reversed")
        batch_op.drop_column("phone_reversed")
    with op.batch_alter_table("sale_lines", schema=None) as batch_op:
        batch_op.drop_column("price_override_till_id")
        batch_op.drop_column("price_override_staff_id")
        batch_op.drop_column("price_override_by")
        batch_op.drop_column("list_price")
