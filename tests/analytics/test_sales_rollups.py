"""The monthly rollup (sales_monthly): product reports read whole months from it, and it
stays equal to the sum of sales_daily through nights with late returns and voids."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Any

from sqlalchemy import func, select

from app.db.models import Sale, SaleLine
from app.db.repositories.sales_reports import SalesReportRepository
from app.domain.reports import (
    Grain,
    SalesReportDimension,
    SalesReportQuery,
    SalesReportRow,
    first_of_month,
)
from app.services.sale_reversals import ReturnLineDraft, SaleReturnCommand
from app.services.sales_aggregates import rebuild, run_nightly
from app.services.unit_of_work import utcnow
from tests.analytics.helpers import at, move_sale, reversals

D = SalesReportDimension
DAY = timedelta(days=1)
GROUP_BYS = (
    (),
    (D.PRODUCT,),
    (D.CATEGORY,),
    (D.MONTH,),
    (D.STORE,),
    (D.MONTH, D.CATEGORY),
    (D.PRODUCT, D.STORE),
    (D.MONTH, D.STORE, D.PRODUCT),
)
ROLLUP = """SELECT month, store_id, product_id, units, revenue_cents, discount_cents, sales,
  returned_units, returned_cents FROM sales_monthly ORDER BY month, store_id, product_id"""


async def _report(runtime: Any, query: SalesReportQuery, *, months: bool) -> list[SalesReportRow]:
    async with runtime.tx.db.read() as session:
        return await SalesReportRepository(session).sales_report(
            query, Grain.PRODUCT, months=months
        )


async def _from_sales(runtime: Any, start: date, end: date) -> set[tuple[Any, ...]]:
    """What a PRODUCT report counts, straight from the sales: the yardstick for both tables."""
    async with runtime.tx.db.read() as session:
        rows = await session.execute(
            select(
                SaleLine.product_id,
                func.count(Sale.id.distinct()),
                func.sum(SaleLine.quantity),
                func.sum(SaleLine.returned_quantity),
            )
            .join(Sale, Sale.id == SaleLine.sale_id)
            .where(
                Sale.status == "COMPLETED",
                Sale.completed_at >= at(start, 0),
                Sale.completed_at < at(end + DAY, 0),
            )
            .group_by(SaleLine.product_id)
        )
        return {tuple(int(v) if i else v for i, v in enumerate(row)) for row in rows.all()}


def _month_before(day: date) -> date:
    return first_of_month(first_of_month(day) - DAY)


async def test_reports_from_the_rollup_equal_the_daily_rows_and_the_sales_after_nights(
    runtime, factory, raw_sql
) -> None:
    tea = await factory.product("TEA", price="2.50", category="Tea")
    cup = await factory.product("CUP", price="10.00", category="Ware")
    branch = await factory.store("BR")
    today = utcnow().date()
    # Three whole months before this one, and the end of the month before them.
    first = _month_before(_month_before(_month_before(today)))
    second, third = (first + 40 * DAY).replace(day=1), (first + 70 * DAY).replace(day=1)
    days = [first - 2 * DAY, first, first + 14 * DAY, second + 2 * DAY, second + 29 * DAY]
    days += [third + 9 * DAY, third + 9 * DAY]
    sales = []
    for n, day in enumerate(days):
        lines = [("TEA", n + 1)] if n % 3 else [("TEA", 1), ("CUP", 1)]
        sale = await factory.completed_sale(None, lines, store_id=branch.id if n % 2 else None)
        await move_sale(runtime, sale.id, at(day))
        sales.append(sale)
    await rebuild(runtime.tx)

    # Later: a return of a sale of the first month, the void of the only cup sold in the
    # second month, and yesterday's sales, all through one night.
    lines = (await factory.sales().lines_for([sales[2].id]))[sales[2].id]
    tea_line = next(line for line in lines if line.product_id == tea.id)
    back = await reversals(factory).return_goods(
        sales[2].id, SaleReturnCommand((ReturnLineDraft(tea_line.id, 1),))
    )
    assert back.value, back.errors
    voided = await reversals(factory).void(sales[3].id, "wrong customer")
    assert voided.value, voided.errors
    for lines in ([("CUP", 2)], [("TEA", 1), ("CUP", 1)]):
        sale = await factory.completed_sale(None, lines)
        await move_sale(runtime, sale.id, at(today - DAY))
    run = await run_nightly(runtime.tx, at(today, 2))
    assert run.result
    assert run.result["dirtyDays"] == 2

    ranges = [
        (first - 5 * DAY, today - DAY),  # partial months at both ends
        (first, third - DAY),  # whole months only
        (first + DAY, second + 29 * DAY),  # a partial month, then most of one
        (first - 2 * DAY, first - 2 * DAY),  # one day
        # Months less a few days at both ends (the first sale of the first month is out).
        (first + 2 * DAY, third + 25 * DAY),
        (first + DAY, first + 26 * DAY),  # one month less its first day and its last few
    ]
    for start, end in ranges:
        for group_by in GROUP_BYS:
            for filters in ({}, {"store_id": branch.id}, {"category": "Tea"}):
                query = SalesReportQuery(start, end, group_by, **filters)
                from_months = await _report(runtime, query, months=True)
                assert from_months == await _report(runtime, query, months=False), query
        by_product = await _report(runtime, SalesReportQuery(start, end, (D.PRODUCT,)), months=True)
        assert {
            (r.product_id, r.sales, r.units, r.returned_units) for r in by_product
        } == await _from_sales(runtime, start, end)
    # The void took the second month's only cup sale: its row goes, as in a rebuild.
    assert (second, cup.id) not in {(_date(m), _uuid(p)) for m, _, p, *_ in await raw_sql(ROLLUP)}

    nightly = await raw_sql(ROLLUP)
    await rebuild(runtime.tx)
    assert await raw_sql(ROLLUP) == nightly


def _uuid(value: Any) -> uuid.UUID:
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))


def _date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))
