"""Demand history and the nightly forecasts (issue 11 §5).

``daily_units`` / ``daily_units_batch`` are the one place forecasts read history from: the
daily aggregate ``sales_daily`` (issue 11 §2), never the sale lines. A day's demand is its
units sold less those returned from the same sales (a return counts on its sale's day,
the aggregates' rule): goods that came back were not demand.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, delete, func, insert, or_, select, union
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import (
    BusinessSettings,
    DemandForecast,
    Product,
    ProductStock,
    SalesDaily,
)
from app.db.repositories.paging import encode_cursor, key_and_id_cursor
from app.domain.errors import InvalidCursor
from app.domain.records import Page

DEFAULT_SERVICE_LEVEL = 0.95


@dataclass(frozen=True, slots=True)
class PlanningItem:
    """One product-store pair to forecast, with what ordering it needs."""

    product_id: uuid.UUID
    store_id: uuid.UUID
    lead_time_days: int
    min_stock: int | None
    on_hand: int


@dataclass(frozen=True, slots=True)
class ForecastRow:
    product_id: uuid.UUID
    store_id: uuid.UUID
    first_day: date
    method: str
    points: list[list[float]]
    mase: float | None
    seasonal_naive_mase: float | None
    on_hand: int
    forecast_demand: float
    safety_stock: float
    suggested_quantity: int
    computed_at: datetime


def _row(r: DemandForecast) -> ForecastRow:
    return ForecastRow(
        product_id=r.product_id,
        store_id=r.store_id,
        first_day=r.first_day,
        method=r.method,
        points=r.points,
        mase=r.mase,
        seasonal_naive_mase=r.seasonal_naive_mase,
        on_hand=r.on_hand,
        forecast_demand=r.forecast_demand,
        safety_stock=r.safety_stock,
        suggested_quantity=r.suggested_quantity,
        computed_at=r.computed_at,
    )


def _as_date(value: Any) -> date:
    # SQLite's date() gives text, PostgreSQL's a date.
    return value if isinstance(value, date) else date.fromisoformat(str(value))


class ForecastRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def daily_units_batch(
        self, start: date, end: date, store_id: uuid.UUID | None = None
    ) -> dict[tuple[uuid.UUID, uuid.UUID], dict[date, float]]:
        """Net units per (product, store) and UTC day, start..end, from the aggregates."""
        stmt = select(
            SalesDaily.product_id,
            SalesDaily.store_id,
            SalesDaily.day,
            SalesDaily.units - SalesDaily.returned_units,
        ).where(
            SalesDaily.day >= start,
            SalesDaily.day <= end,
            *([SalesDaily.store_id == store_id] if store_id else []),
        )
        out: dict[tuple[uuid.UUID, uuid.UUID], dict[date, float]] = {}
        for product_id, store, day, units in await self.session.execute(stmt):
            out.setdefault((product_id, store), {})[_as_date(day)] = float(units or 0)
        return out

    async def daily_units(
        self, store_id: uuid.UUID, product_id: uuid.UUID, start: date, end: date
    ) -> list[float]:
        """One product's units per day at one store, start..end inclusive, zeros filled."""
        found = (await self.daily_units_batch(start, end, store_id)).get((product_id, store_id), {})
        days = (end - start).days + 1
        return [found.get(start + timedelta(days=i), 0.0) for i in range(days)]

    async def planning_items(self, since: date) -> list[PlanningItem]:
        """Active products in the stores that sold or stock them since ``since``."""
        pairs = union(
            select(SalesDaily.product_id, SalesDaily.store_id)
            .where(SalesDaily.day >= since)
            .distinct(),
            select(ProductStock.product_id, ProductStock.store_id),
        ).subquery()
        stmt = (
            select(
                pairs.c.product_id,
                pairs.c.store_id,
                Product.lead_time_days,
                Product.min_stock,
                func.coalesce(ProductStock.on_hand, 0),
            )
            .join(Product, Product.id == pairs.c.product_id)
            .outerjoin(
                ProductStock,
                and_(
                    ProductStock.product_id == pairs.c.product_id,
                    ProductStock.store_id == pairs.c.store_id,
                ),
            )
            .where(Product.active.is_(True))
            .order_by(pairs.c.store_id, pairs.c.product_id)
        )
        return [
            PlanningItem(p, s, int(lead), minimum, int(on_hand))
            for p, s, lead, minimum, on_hand in await self.session.execute(stmt)
        ]

    async def service_level(self) -> float:
        level = await self.session.scalar(select(BusinessSettings.forecast_service_level))
        return float(level) if level is not None else DEFAULT_SERVICE_LEVEL

    async def replace_all(self, rows: list[dict[str, Any]]) -> None:
        """Last night's forecasts out, tonight's in: one transaction, so readers see either."""
        await self.session.execute(delete(DemandForecast))
        for i in range(0, len(rows), 1000):
            await self.session.execute(insert(DemandForecast), rows[i : i + 1000])

    async def get(self, product_id: uuid.UUID, store_id: uuid.UUID) -> ForecastRow | None:
        row = await self.session.get(DemandForecast, (product_id, store_id))
        return _row(row) if row else None

    async def suggestions(
        self, store_id: uuid.UUID | None, first: int, after: str | None
    ) -> Page[ForecastRow]:
        """Products to order (suggested quantity above 0), by store then product id."""
        conditions: list[ColumnElement[bool]] = [DemandForecast.suggested_quantity > 0]
        if store_id is not None:
            conditions.append(DemandForecast.store_id == store_id)
        total = await self.session.scalar(
            select(func.count()).select_from(DemandForecast).where(*conditions)
        )
        stmt = select(DemandForecast).where(*conditions)
        if after is not None:
            store_hex, product = key_and_id_cursor(after)
            try:
                store = uuid.UUID(store_hex)
            except ValueError:
                raise InvalidCursor("malformed cursor") from None
            stmt = stmt.where(
                or_(
                    DemandForecast.store_id > store,
                    and_(DemandForecast.store_id == store, DemandForecast.product_id > product),
                )
            )
        rows = list(
            await self.session.scalars(
                stmt.order_by(DemandForecast.store_id, DemandForecast.product_id).limit(first + 1)
            )
        )
        return Page(
            items=[
                (encode_cursor(r.store_id.hex, r.product_id.hex), _row(r)) for r in rows[:first]
            ],
            has_next=len(rows) > first,
            total=total or 0,
        )
