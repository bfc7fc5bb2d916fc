"""Demand history and the nightly forecasts (issue 11 §5).

``daily_units`` / ``daily_units_batch`` are the one place forecasts read history from.
Until the daily aggregate table (issue 11 §2, branch analytics-reports) is on main they
sum completed sales minus returns per day from the sale lines; at merge only these two
functions change, to read the aggregate.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, delete, func, insert, or_, select, union
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import (
    BusinessSettings,
    DemandForecast,
    Product,
    ProductStock,
    Sale,
    SaleLine,
    SaleReturn,
    SaleReturnLine,
)
from app.db.repositories.paging import encode_cursor, key_and_id_cursor
from app.domain.errors import InvalidCursor
from app.domain.records import Page
from app.domain.sales import SaleStatus

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

    def _day(self, column: Any) -> Any:
        """The UTC calendar day of a timestamp column, on either dialect."""
        if self.session.get_bind().dialect.name == "postgresql":
            return func.date(func.timezone("UTC", column))
        return func.date(column)

    async def daily_units_batch(
        self, start: date, end: date, store_id: uuid.UUID | None = None
    ) -> dict[tuple[uuid.UUID, uuid.UUID], dict[date, float]]:
        """Units sold minus units returned per (product, store) and UTC day, start..end.

        A return counts on its own day and at its own store: that is when and where the
        shelf got the goods back. Voided and open sales count nothing.
        """
        sold_day = self._day(Sale.completed_at)
        sold = (
            select(
                SaleLine.product_id,
                Sale.store_id,
                sold_day.label("day"),
                func.sum(SaleLine.quantity).label("units"),
            )
            .join(Sale, Sale.id == SaleLine.sale_id)
            .where(
                Sale.status == SaleStatus.COMPLETED.value,
                *self._window(Sale.completed_at, start, end),
                *([Sale.store_id == store_id] if store_id else []),
            )
            .group_by(SaleLine.product_id, Sale.store_id, sold_day)
        )
        back_day = self._day(SaleReturn.created_at)
        returned = (
            select(
                SaleLine.product_id,
                SaleReturn.store_id,
                back_day.label("day"),
                func.sum(SaleReturnLine.quantity).label("units"),
            )
            .join(SaleReturn, SaleReturn.id == SaleReturnLine.return_id)
            .join(SaleLine, SaleLine.id == SaleReturnLine.sale_line_id)
            .where(
                *self._window(SaleReturn.created_at, start, end),
                *([SaleReturn.store_id == store_id] if store_id else []),
            )
            .group_by(SaleLine.product_id, SaleReturn.store_id, back_day)
        )
        out: dict[tuple[uuid.UUID, uuid.UUID], dict[date, float]] = {}
        for sign, stmt in ((1.0, sold), (-1.0, returned)):
            for product_id, store, day, units in await self.session.execute(stmt):
                days = out.setdefault((product_id, store), {})
                key = _as_date(day)
                days[key] = days.get(key, 0.0) + sign * float(units or 0)
        return out

    def _window(self, column: Any, start: date, end: date) -> list[ColumnElement[bool]]:
        # Bounds on the raw column (an index range), not on its day expression.
        low = datetime(start.year, start.month, start.day, tzinfo=UTC)
        high = datetime(end.year, end.month, end.day, tzinfo=UTC) + timedelta(days=1)
        return [column >= low, column < high]

    async def daily_units(
        self, store_id: uuid.UUID, product_id: uuid.UUID, start: date, end: date
    ) -> list[float]:
        """One product's units per day at one store, start..end inclusive, zeros filled."""
        found = (await self.daily_units_batch(start, end, store_id)).get((product_id, store_id), {})
        days = (end - start).days + 1
        return [found.get(start + timedelta(days=i), 0.0) for i in range(days)]

    async def planning_items(self, since: date) -> list[PlanningItem]:
        """Active products in the stores that sold or stock them since ``since``."""
        window = self._window(Sale.completed_at, since, date.max - timedelta(days=1))
        pairs = union(
            select(SaleLine.product_id, Sale.store_id)
            .join(Sale, Sale.id == SaleLine.sale_id)
            .where(Sale.status == SaleStatus.COMPLETED.value, *window)
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
