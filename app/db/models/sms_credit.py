from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db.base import Base
from app.db.models._columns import big_id, created_at, utcnow
from app.db.types import UTCDateTime


class SmsCreditBalance(Base):
    """The shop's SMS credits (seed 003 "My SMS"): one row (id 1), created by the migration.

    ``available`` can be reserved; ``reserved`` is held by queued SMS until they are sent
    (spent) or fail or are skipped (released). Reserving is ``UPDATE … SET available =
    available - n WHERE available >= n`` (no row locks relied on, STYLE.md), and the CHECKs
    are the last line against a negative balance.
    """

    __tablename__ = "sms_credit_balance"
    __table_args__ = (
        CheckConstraint("available >= 0", name="available_not_negative"),
        CheckConstraint("reserved >= 0", name="reserved_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    available: Mapped[int] = mapped_column(Integer, default=0)
    reserved: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class SmsCreditEntry(Base):
    """One movement of credits: TOP_UP, RESERVE, SPEND or RELEASE, in segments (> 0)."""

    __tablename__ = "sms_credit_ledger"
    __table_args__ = (
        CheckConstraint("segments > 0", name="segments_positive"),
        Index("ix_sms_credit_ledger_notification", "notification_id"),
    )

    id: Mapped[int] = big_id()
    kind: Mapped[str] = mapped_column(String(8))
    segments: Mapped[int] = mapped_column(Integer)
    notification_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("notifications.id", ondelete="SET NULL")
    )
    # What a top-up was bought with (an invoice or order number); None for sends.
    reference: Mapped[str | None] = mapped_column(String(200))
    actor_id: Mapped[str | None] = mapped_column(String(64))
    actor_label: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime] = created_at()
