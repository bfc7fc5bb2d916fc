from __future__ import annotations

from datetime import date
from typing import Annotated

import strawberry

from app.domain.errors import Rejected
from app.domain.reports import SalesReportDimension
from app.schema.analytics import (
    ConsentRate,
    DiscountUsageRow,
    PointsLiability,
    SalesReportFilter,
    SalesReportRow,
    SegmentCount,
)
from app.schema.context import Context
from app.schema.errors import ClientError
from app.schema.ids import parse_id
from app.services.sales_reports import SalesReportService
from app.services.segments import segment_counts

Info = strawberry.Info[Context, None]
# `from` is a Python keyword: the argument is named in the schema only.
From = strawberry.argument(name="from")


def _service(info: Info) -> SalesReportService:
    return SalesReportService(info.context.tx, info.context.actor)


async def sales_report(
    info: Info,
    start: Annotated[date, From],
    to: date,
    group_by: list[SalesReportDimension],
    filter: SalesReportFilter | None = None,
) -> list[SalesReportRow]:
    query = (filter or SalesReportFilter()).to_query(start, to, group_by)
    try:
        rows = await _service(info).sales_report(query)
    except Rejected as rejected:
        raise ClientError.from_rejected(rejected) from None
    return [SalesReportRow.from_record(r) for r in rows]


async def customer_segments(
    info: Info, store_id: strawberry.ID | None = None
) -> list[SegmentCount]:
    store = parse_id(store_id) if store_id else None
    try:
        counts = await segment_counts(info.context.tx, info.context.actor, store)
    except Rejected as rejected:
        raise ClientError.from_rejected(rejected) from None
    return [SegmentCount.from_record(c) for c in counts]


async def discount_usage(
    info: Info,
    start: Annotated[date, From],
    to: date,
    store_id: strawberry.ID | None = None,
) -> list[DiscountUsageRow]:
    store = parse_id(store_id) if store_id else None
    try:
        rows = await _service(info).discount_usage(start, to, store)
    except Rejected as rejected:
        raise ClientError.from_rejected(rejected) from None
    return [DiscountUsageRow.from_record(r) for r in rows]


async def points_liability(info: Info) -> PointsLiability:
    return PointsLiability.from_record(await _service(info).points_liability())


async def consent_rates(info: Info) -> list[ConsentRate]:
    return [ConsentRate.from_record(r) for r in await _service(info).consent_rates()]
