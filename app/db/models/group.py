from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.db.base import Base
from app.db.models._columns import created_at, uuid_pk
from app.db.types import Percent


class CustomerGroup(Base):
    """A named set of customers with an optional group discount (seed 004)."""

    __tablename__ = "customer_groups"

    id: Mapped[uuid.UUID] = uuid_pk()
    name: Mapped[str] = mapped_column(String(100))
    # Case-folded name: "VIP" and "vip" are one group.
    name_key: Mapped[str] = mapped_column(String(100), unique=True)
    note: Mapped[str | None] = mapped_column(Text)
    discount_percent: Mapped[Decimal | None] = mapped_column(Percent())
    created_at: Mapped[datetime] = created_at()


class CustomerGroupMember(Base):
    __tablename__ = "customer_group_members"
    __table_args__ = (Index("ix_customer_group_members_customer", "customer_id", "group_id"),)

    # Deleting a group removes memberships only: the customers stay.
    group_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("customer_groups.id", ondelete="CASCADE"), primary_key=True
    )
    customer_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True
    )
    created_at: Mapped[datetime] = created_at()
