from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

from sqlalchemy import Boolean, ForeignKey, Index, String, Text, true
from sqlalchemy.orm import Mapped, mapped_column

from app.db.base import Base
from app.db.models._columns import created_at, uuid_pk
from app.db.types import Percent, UTCDateTime


class DiscountCode(Base):
    """A predefined preferential rate that can be assigned to customers (seed 002)."""

    __tablename__ = "discount_codes"

    id: Mapped[uuid.UUID] = uuid_pk()
    code: Mapped[str] = mapped_column(String(32))
    # Upper-cased code: "vip10" and "VIP10" are one code.
    code_key: Mapped[str] = mapped_column(String(32), unique=True)
    percent: Mapped[Decimal] = mapped_column(Percent())
    description: Mapped[str | None] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    created_at: Mapped[datetime] = created_at()


class CustomerDiscount(Base):
    """The one discount code a customer holds, until ``expires_at`` (then the job resets it)."""

    __tablename__ = "customer_discounts"
    __table_args__ = (Index("ix_customer_discounts_expires_at", "expires_at"),)

    customer_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True
    )
    discount_code_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("discount_codes.id"), index=True)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    assigned_at: Mapped[datetime] = created_at()
    assigned_by: Mapped[str] = mapped_column(String(200))
