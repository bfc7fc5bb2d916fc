"""Demand forecasts and reorder suggestions (issue 11 §5): the nightly job and the reads.

The nightly run reads two years of daily units per active product-store pair
(``ForecastRepository.daily_units_batch``), forecasts and backtests every series at once
(``app.domain.forecasting``), plans an order for each, and replaces the table. The
numbers are computed before the write transaction opens, so the tills' writes never
wait on the forecasting; the write is one delete and a batch insert under the slot's
claim, so a second worker, or ``poscrm run-job`` on a done slot, changes nothing.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np

from app.db.repositories.forecasts import ForecastRepository, ForecastRow, PlanningItem
from app.db.repositories.job_runs import JobRunRepository
from app.db.repositories.products import ProductRepository
from app.db.repositories.stores import StoreRepository
from app.domain import forecasting
from app.domain.errors import ErrorCode, reject
from app.domain.products import ProductRecord
from app.domain.records import Actor, Page, StoreRecord
from app.services.sales_aggregates import run_nightly
from app.services.scheduled import ScheduledRun, run_once, slot_of
from app.services.store_scope import require_store, scoped_store
from app.services.unit_of_work import Transactions, UnitOfWork, utcnow

FORECAST_JOB = "refresh_demand_forecasts"
DAILY = timedelta(days=1)
HISTORY_DAYS = 728
"""Two years, whole weeks: enough for the weekday profile to settle and a yearly wave to show."""
REVIEW_DAYS = 7
"""Suggestions are planned to be acted on weekly: an order covers lead time plus a week."""
FORECAST_DAYS = 28
"""Days kept per forecast; ``demandForecast(days)`` may ask for up to this many."""


@dataclass(frozen=True, slots=True)
class ForecastPoint:
    day: date
    quantity: float
    low: float
    high: float


@dataclass(frozen=True, slots=True)
class DemandForecastView:
    method: str
    points: list[ForecastPoint]
    mase: float | None
    seasonal_naive_mase: float | None
    computed_at: datetime


@dataclass(frozen=True, slots=True)
class ReorderSuggestion:
    product: ProductRecord
    store: StoreRecord
    on_hand: int
    forecast_demand: float
    safety_stock: float
    suggested_quantity: int


def _finite(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None


def plan_rows(
    items: list[PlanningItem],
    history: dict[tuple[uuid.UUID, uuid.UUID], dict[date, float]],
    first_day: date,
    service_level: float,
    now: datetime,
) -> list[dict[str, Any]]:
    """Forecast, backtest and plan every item from its daily history before ``first_day``."""
    if not items:
        return []
    start = first_day - timedelta(days=HISTORY_DAYS)
    matrix = np.zeros((len(items), HISTORY_DAYS))
    for row, item in enumerate(items):
        for day, units in history.get((item.product_id, item.store_id), {}).items():
            offset = (day - start).days
            if 0 <= offset < HISTORY_DAYS:
                matrix[row, offset] = units
    # Returns can outnumber sales on a day; demand is never negative.
    matrix = np.maximum(matrix, 0.0)
    lead = np.array([i.lead_time_days for i in items], dtype=np.int64)
    horizon = max(FORECAST_DAYS, int(lead.max()) + REVIEW_DAYS)
    result = forecasting.forecast(matrix, horizon=horizon)
    tested = forecasting.backtest(matrix, horizon=14, origins=4)
    minimum = np.array([i.min_stock or 0 for i in items], dtype=np.float64)
    plan = forecasting.reorder(
        result.mean,
        result.sum_sigma,
        on_hand=np.array([max(i.on_hand, 0) for i in items], dtype=np.float64),
        lead_time_days=lead,
        review_days=REVIEW_DAYS,
        service_level=service_level,
        min_stock=minimum,
    )
    rounded = np.round(np.stack([result.mean, result.low, result.high], axis=2), 2)
    return [
        {
            "product_id": item.product_id,
            "store_id": item.store_id,
            "first_day": first_day,
            "method": result.method[row],
            "points": rounded[row, :FORECAST_DAYS].tolist(),
            "mase": _finite(tested.mase[row]),
            "seasonal_naive_mase": _finite(tested.seasonal_naive_mase[row]),
            "on_hand": item.on_hand,
            "forecast_demand": round(float(plan.forecast_demand[row]), 2),
            "safety_stock": round(float(plan.safety_stock[row]), 2),
            "suggested_quantity": int(plan.suggested[row]),
            "computed_at": now,
        }
        for row, item in enumerate(items)
    ]


async def refresh_forecasts(tx: Transactions, scheduled_for: datetime) -> ScheduledRun:
    """Forecast from the days before the slot's day, once per slot.

    The night's aggregates first (a claimed slot: nothing if their job already ran), so
    yesterday's sales are in the history whichever job a worker starts first.
    """
    slot = slot_of(scheduled_for, DAILY)
    await run_nightly(tx, scheduled_for)
    async with tx.db.read() as session:
        last = await JobRunRepository(session).last_slot(FORECAST_JOB)
        if last is not None and last >= slot:
            return ScheduledRun(claimed=False)
        repository = ForecastRepository(session)
        first_day = slot.date()
        start = first_day - timedelta(days=HISTORY_DAYS)
        items = await repository.planning_items(start)
        history = await repository.daily_units_batch(start, first_day - timedelta(days=1))
        level = await repository.service_level()
    rows = plan_rows(items, history, first_day, level, utcnow())

    async def write(uow: UnitOfWork) -> dict[str, Any]:
        await ForecastRepository(uow.session).replace_all(rows)
        return {
            "rows": len(rows),
            "toOrder": sum(1 for r in rows if r["suggested_quantity"] > 0),
            "firstDay": first_day.isoformat(),
            "serviceLevel": level,
        }

    return await run_once(tx, FORECAST_JOB, slot, write)


class ForecastService:
    def __init__(self, tx: Transactions, actor: Actor | None) -> None:
        self.tx = tx
        self.actor = actor

    async def demand_forecast(
        self, product_id: uuid.UUID, store_id: uuid.UUID, days: int
    ) -> DemandForecastView | None:
        """Last night's forecast of one product at one store; None before the first run."""
        require_store(self.actor, store_id, "storeId")
        if not 1 <= days <= FORECAST_DAYS:
            raise reject(ErrorCode.INVALID, f"Must be from 1 to {FORECAST_DAYS}.", "days")
        async with self.tx.db.read() as session:
            row = await ForecastRepository(session).get(product_id, store_id)
        if row is None:
            return None
        return DemandForecastView(
            method=row.method,
            points=[
                ForecastPoint(row.first_day + timedelta(days=i), q, low, high)
                for i, (q, low, high) in enumerate(row.points[:days])
            ],
            mase=row.mase,
            seasonal_naive_mase=row.seasonal_naive_mase,
            computed_at=row.computed_at,
        )

    async def reorder_suggestions(
        self, store_id: uuid.UUID | None, first: int, after: str | None
    ) -> Page[ReorderSuggestion]:
        """What to order, by store then product; a store-bound caller sees its own store."""
        store = scoped_store(self.actor, store_id, "storeId")
        async with self.tx.db.read() as session:
            page = await ForecastRepository(session).suggestions(store, first, after)
            rows: list[ForecastRow] = [row for _, row in page.items]
            products = await ProductRepository(session).get_many(list({r.product_id for r in rows}))
            stores = StoreRepository(session)
            places = {s: await stores.get(s) for s in {r.store_id for r in rows}}
        items = []
        for cursor, row in page.items:
            product, place = products.get(row.product_id), places.get(row.store_id)
            if product is None or place is None:  # deleted since last night
                continue
            items.append(
                (
                    cursor,
                    ReorderSuggestion(
                        product=product,
                        store=place,
                        on_hand=row.on_hand,
                        forecast_demand=row.forecast_demand,
                        safety_stock=row.safety_stock,
                        suggested_quantity=row.suggested_quantity,
                    ),
                )
            )
        return Page(items=items, has_next=page.has_next, total=page.total)
