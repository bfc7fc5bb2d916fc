from __future__ import annotations

import strawberry

from app.domain.errors import Rejected
from app.schema.context import Context
from app.schema.errors import ClientError
from app.schema.forecast import DemandForecast, ReorderSuggestion, ReorderSuggestionConnection
from app.schema.ids import parse_id
from app.schema.pagination import DEFAULT_PAGE_SIZE

Info = strawberry.Info[Context, None]


async def demand_forecast(
    info: Info, product_id: strawberry.ID, store_id: strawberry.ID, days: int = 14
) -> DemandForecast | None:
    try:
        found = await info.context.forecasts.demand_forecast(
            parse_id(product_id), parse_id(store_id), days
        )
    except Rejected as rejected:
        raise ClientError.from_rejected(rejected) from None
    return DemandForecast.from_view(found) if found else None


async def reorder_suggestions(
    info: Info,
    store_id: strawberry.ID | None = None,
    first: int = DEFAULT_PAGE_SIZE,
    after: str | None = None,
) -> ReorderSuggestionConnection:
    store = parse_id(store_id) if store_id is not None else None
    try:
        page = await info.context.forecasts.reorder_suggestions(store, first, after)
    except Rejected as rejected:
        raise ClientError.from_rejected(rejected) from None
    return ReorderSuggestionConnection.from_page(page, ReorderSuggestion.from_record, after=after)
