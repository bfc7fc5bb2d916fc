from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from app.db.base import Base
from app.db.models._columns import big_id, created_at, utcnow, uuid_pk
from app.db.types import Money, Percent, UTCDateTime


class LoyaltyCard(Base):
    """A membership card (seeds 001, 003). Its identity never changes; a lost card is replaced."""

    __tablename__ = "loyalty_cards"
    __table_args__ = (
        # At most one working card per customer; replaced cards stay for the record.
        Index(
            "uq_loyalty_cards_active_customer",
            "customer_id",
            unique=True,
            sqlite_where=text("status = 'ACTIVE'"),
            postgresql_where=text("status = 'ACTIVE'"),
        ),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    customer_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), index=True
    )
    # Also the scannable membership code; unique across all cards ever issued.
    card_number: Mapped[str] = mapped_column(String(64), unique=True)
    discount_percent: Mapped[Decimal | None] = mapped_column(Percent())
    # ACTIVE, or REPLACED (the number stops working).
    status: Mapped[str] = mapped_column(String(16), default="ACTIVE")
    replaced_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("loyalty_cards.id"))
    issued_at: Mapped[datetime] = created_at()
    issued_by: Mapped[str] = mapped_column(String(200))
    replaced_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class PointsBalance(Base):
    """The running sum of a customer's ledger, kept in the ledger's transaction.

    Redeeming is ``UPDATE … SET points = points - n WHERE points >= n``: the row lock
    (PostgreSQL) or the single writer (SQLite) makes two tills' redemptions take turns,
    and the CHECK is the last line against a negative balance.
    """

    __tablename__ = "loyalty_points_balances"
    __table_args__ = (CheckConstraint("points >= 0", name="points_not_negative"),)

    customer_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True
    )
    points: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class PointsEntry(Base):
    """One ledger entry: EARN, REDEEM, ADJUST or EXPIRE, signed (redeem and expire < 0)."""

    __tablename__ = "loyalty_points_ledger"
    __table_args__ = (Index("ix_points_ledger_customer", "customer_id", "id"),)

    id: Mapped[int] = big_id()
    customer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    card_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("loyalty_cards.id"))
    kind: Mapped[str] = mapped_column(String(8))
    points: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str | None] = mapped_column(Text)
    sale_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("sales.id"))
    at: Mapped[datetime] = created_at()
    actor_label: Mapped[str] = mapped_column(String(200))


class LoyaltyTier(Base):
    """A membership plan a customer earns (seed 003): app/domain/tiers.py has the rule."""

    __tablename__ = "loyalty_tiers"

    id: Mapped[uuid.UUID] = uuid_pk()
    name: Mapped[str] = mapped_column(String(100))
    # "gold" and "Gold" are one tier.
    name_key: Mapped[str] = mapped_column(String(100), unique=True)
    # The higher rank wins when a customer reaches several tiers.
    rank: Mapped[int] = mapped_column(Integer, unique=True)
    basis: Mapped[str] = mapped_column(String(8))
    threshold: Mapped[Decimal] = mapped_column(Money())
    window_days: Mapped[int] = mapped_column(Integer)
    points_multiplier: Mapped[Decimal] = mapped_column(Percent())
    discount_percent: Mapped[Decimal | None] = mapped_column(Percent())
    created_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class CustomerLoyaltyTier(Base):
    """The tier a customer holds now; no row: none. Kept at each sale's completion and by
    the nightly re-evaluation (app/services/loyalty_tiers.py)."""

    __tablename__ = "customer_loyalty_tiers"

    customer_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True
    )
    tier_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("loyalty_tiers.id", ondelete="CASCADE"), index=True
    )
    since: Mapped[datetime] = mapped_column(UTCDateTime())
