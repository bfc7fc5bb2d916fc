"""Demand forecasts and reorder suggestions (issue 11 §5; names fixed in DESIGN.md §3b)."""

from __future__ import annotations

import datetime as dt

import strawberry

from app.schema.pagination import Connection
from app.schema.product import Product
from app.schema.staff import Store
from app.services import forecasts


@strawberry.type(description="Units expected on one day, with a 95% prediction interval.")
class ForecastPoint:
    date: dt.date
    quantity: float
    low: float
    high: float


@strawberry.type(
    description="Rolling-origin backtest: 4 weekly origins, 14 days each. MASE below 1 beats "
    "the seasonal-naive forecast's in-sample error; null for a series that never varied."
)
class ForecastBacktest:
    mase: float | None
    seasonal_naive_mase: float | None


@strawberry.type(description="Last night's daily demand forecast of a product at a store.")
class DemandForecast:
    method: str = strawberry.field(
        description="seasonal-naive (under 4 weeks of sales), ets-weekday or tsb-weekday "
        "(intermittent demand); docs/analytics.md explains them."
    )
    points: list[ForecastPoint]
    backtest: ForecastBacktest
    computed_at: dt.datetime

    @classmethod
    def from_view(cls, v: forecasts.DemandForecastView) -> DemandForecast:
        return cls(
            method=v.method,
            points=[
                ForecastPoint(date=p.day, quantity=p.quantity, low=p.low, high=p.high)
                for p in v.points
            ],
            backtest=ForecastBacktest(mase=v.mase, seasonal_naive_mase=v.seasonal_naive_mase),
            computed_at=v.computed_at,
        )


@strawberry.type(description="What to order of a product for a store, from last night's forecast.")
class ReorderSuggestion:
    product: Product
    store: Store
    on_hand: int = strawberry.field(description="On hand when the forecast ran.")
    forecast_demand: float = strawberry.field(
        description="Units forecast over the lead time plus a 7-day review period."
    )
    safety_stock: float = strawberry.field(
        description="Buffer for forecast error at the service level (business setting, "
        "default 95% of units wanted on the shelf); at least the product's minStock."
    )
    suggested_quantity: int = strawberry.field(
        description="forecastDemand + safetyStock - onHand, rounded up; above 0 here."
    )

    @classmethod
    def from_record(cls, r: forecasts.ReorderSuggestion) -> ReorderSuggestion:
        return cls(
            product=Product.from_record(r.product),
            store=Store.from_record(r.store),
            on_hand=r.on_hand,
            forecast_demand=r.forecast_demand,
            safety_stock=r.safety_stock,
            suggested_quantity=r.suggested_quantity,
        )


ReorderSuggestionConnection = Connection[ReorderSuggestion]
