from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.db.base import Base
from app.db.models._columns import uuid_pk
from app.db.types import Money, UTCDateTime


class DiscountAuditFinding(Base):
    """Something the discount-usage audit found (issue 11 §6), and how it was triaged.

    Unique on (rule, subject): the subject names what was judged (a sale, a cashier's
    window and metric, a customer's day), so a second scan or a second worker inserts
    nothing new (ON CONFLICT DO NOTHING).
    """

    __tablename__ = "discount_audit_findings"
    __table_args__ = (
        Index("uq_discount_audit_findings_subject", "rule", "subject", unique=True),
        Index("ix_discount_audit_findings_detected", "detected_at", "id"),
        Index("ix_discount_audit_findings_store", "store_id", "detected_at", "id"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    rule: Mapped[str] = mapped_column(String(32))
    subject: Mapped[str] = mapped_column(String(200))
    severity: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(16), default="OPEN", server_default="OPEN")
    explanation: Mapped[str] = mapped_column(Text)
    sale_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("sales.id"), index=True)
    customer_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("customers.id", ondelete="SET NULL"), index=True
    )
    cashier_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("staff_users.id"), index=True)
    store_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("stores.id"))
    amount: Mapped[Decimal | None] = mapped_column(Money())
    # The figures the rule judged by (rates, peers' median, times), for the analyst.
    details: Mapped[dict[str, Any]] = mapped_column(JSON)
    detected_at: Mapped[datetime] = mapped_column(UTCDateTime())
    note: Mapped[str | None] = mapped_column(Text)
    triaged_by: Mapped[str | None] = mapped_column(String(200))
    triaged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class DiscountAuditWatermark(Base):
    """How far the audit has scanned: sales completed up to ``scanned_through`` are judged.

    One row (id 1). It only moves forward (a conditional UPDATE), so an older run finishing
    late never makes the next one scan again what was already scanned.
    """

    __tablename__ = "discount_audit_watermark"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    scanned_through: Mapped[datetime] = mapped_column(UTCDateTime())
