from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import JSON, Date, Float, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db.base import Base
from app.db.types import UTCDateTime


class DemandForecast(Base):
    """The nightly forecast and reorder suggestion of one product in one store (issue 11 §5).

    Replaced whole each night (``poscrm run-job refresh_demand_forecasts``); the daily
    points are JSON because they are only ever read together, for one product and store.
    """

    __tablename__ = "demand_forecasts"
    __table_args__ = (
        # reorderSuggestions pages a store's products to order, in product id order.
        Index("ix_demand_forecasts_store_suggested", "store_id", "suggested_quantity"),
    )

    product_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("products.id", ondelete="CASCADE"), primary_key=True
    )
    store_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("stores.id", ondelete="CASCADE"), primary_key=True
    )
    # The first day forecast (the day after the last day of history).
    first_day: Mapped[date] = mapped_column(Date)
    method: Mapped[str] = mapped_column(String(32))
    # [[quantity, low, high], ...] one per day from first_day.
    points: Mapped[list[list[float]]] = mapped_column(JSON)
    mase: Mapped[float | None] = mapped_column(Float)
    seasonal_naive_mase: Mapped[float | None] = mapped_column(Float)
    on_hand: Mapped[int] = mapped_column(Integer)
    forecast_demand: Mapped[float] = mapped_column(Float)
    safety_stock: Mapped[float] = mapped_column(Float)
    suggested_quantity: Mapped[int] = mapped_column(Integer)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime())
