from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import JSON, Boolean, Float, Integer, String, true
from sqlalchemy.orm import Mapped, mapped_column

from app.db.base import Base
from app.db.models._columns import utcnow
from app.db.types import Money, UTCDateTime


class BusinessSettings(Base):
    """The shop's configuration: one row (id 1), created by the migration (seed 000)."""

    __tablename__ = "business_settings"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Which the customer search at the till tries first: "PHONE" or "NAME" (seed 000).
    customer_search_first: Mapped[str] = mapped_column(String(8))
    default_phone_region: Mapped[str] = mapped_column(String(2))
    points_per_currency_unit: Mapped[Decimal] = mapped_column(Money())
    point_value: Mapped[Decimal] = mapped_column(Money())
    # Earned points expire after this many days; None: they never do.
    points_validity_days: Mapped[int | None] = mapped_column(Integer)
    # The notification scenarios switched on for each channel (issue 10 §3).
    email_scenarios: Mapped[list[str]] = mapped_column(JSON)
    sms_scenarios: Mapped[list[str]] = mapped_column(JSON)
    # Warn when available SMS credits fall below this (issue 10 §2); 0: never warn.
    sms_credit_warning_threshold: Mapped[int] = mapped_column(Integer, server_default="100")
    # The fill rate reorder suggestions plan for (issue 11 §5): share of units wanted on
    # the shelf. Float, not Money: it is a probability, never summed into accounts.
    forecast_service_level: Mapped[float] = mapped_column(Float, server_default="0.95")
    # Customer segments (issue 11 §3, docs/analytics.md): frequency and spend are counted
    # over the window; no purchase for at_risk days makes a repeat customer AT_RISK, for
    # lapsed days anyone LAPSED; LOYAL needs both quintiles at least loyal_quintile.
    segment_window_days: Mapped[int] = mapped_column(Integer, server_default="365")
    segment_at_risk_days: Mapped[int] = mapped_column(Integer, server_default="90")
    segment_lapsed_days: Mapped[int] = mapped_column(Integer, server_default="180")
    segment_loyal_quintile: Mapped[int] = mapped_column(Integer, server_default="4")
    # Seed 004 "Enable loyalty function": off, no points are earned or redeemed and no card
    # discount applies; balances and cards are kept and shown.
    loyalty_enabled: Mapped[bool] = mapped_column(Boolean, server_default=true())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
