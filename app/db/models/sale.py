from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db.base import Base
from app.db.models._columns import created_at, uuid_pk
from app.db.types import Money


class Sale(Base):
    """A sale at a till; ``customer_id`` NULL is a walk-in sale."""

    __tablename__ = "sales"

    id: Mapped[uuid.UUID] = uuid_pk()
    store_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("stores.id"))
    till_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("tills.id"))
    cashier_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("staff_users.id"))
    # RESTRICT: a customer with sales is never deleted (seed 002), only deactivated.
    customer_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("customers.id", ondelete="RESTRICT"), index=True
    )
    status: Mapped[str] = mapped_column(String(16), default="OPEN")
    subtotal: Mapped[Decimal] = mapped_column(Money(), default=Decimal("0.00"))
    discount_total: Mapped[Decimal] = mapped_column(Money(), default=Decimal("0.00"))
    total: Mapped[Decimal] = mapped_column(Money(), default=Decimal("0.00"))
    created_at: Mapped[datetime] = created_at()
