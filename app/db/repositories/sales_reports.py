"""Reports' SQL: GROUP BYs over the daily aggregates (never over sales or their lines).

Product-grain reports read a range's whole months from the monthly rollup
(``sales_monthly``) and only its partial months' days from ``sales_daily``, in one
``UNION ALL``: a year is then ~13 rows a product and store instead of ~365. A report by
DAY or WEEK needs the days, so it reads ``sales_daily`` alone.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import Date, DateTime, Select, Subquery, cast, func, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import (
    Customer,
    MarketingConsent,
    PointsBalance,
    Product,
    SalesDaily,
    SalesDailyDiscount,
    SalesDailyMix,
    SalesMonthly,
)
from app.db.repositories.sales_rollups import first_of_month, next_month
from app.domain.money import from_cents
from app.domain.reports import Grain, SalesReportDimension, SalesReportQuery, SalesReportRow
from app.domain.segments import CustomerSegment

D = SalesReportDimension
PRODUCT_COLUMNS = (
    "store_id",
    "product_id",
    "sales",
    "units",
    "revenue_cents",
    "discount_cents",
    "returned_units",
    "returned_cents",
)


@dataclass(frozen=True, slots=True)
class DiscountUsageRow:
    source: str
    cashier_id: uuid.UUID | None
    sales: int
    discount_cents: int


def _as_date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


class SalesReportRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.dialect = session.get_bind().dialect.name

    def _period(self, dimension: SalesReportDimension, day: Any) -> Any:
        if dimension is D.DAY:
            return day
        if self.dialect == "sqlite":
            if dimension is D.WEEK:
                # The Sunday ending the week, less six days: its Monday.
                return func.date(day, "weekday 0", "-6 days")
            return func.strftime("%Y-%m-01", day)
        unit = "week" if dimension is D.WEEK else "month"
        return cast(func.date_trunc(unit, cast(day, DateTime)), Date)

    def _with_months(self, query: SalesReportQuery) -> Subquery | None:
        """``sales_daily``'s rows of the partial months at either end of the query's days
        beside the rollup's rows of the whole months between (a rollup row's ``day`` is its
        month's first day); None when no whole month can be read from the rollup."""
        after = query.end + timedelta(days=1)
        whole_from = first_of_month(query.start)
        if whole_from < query.start:
            whole_from = next_month(whole_from)
        whole_to = first_of_month(after)
        periods = {D.DAY, D.WEEK} & set(query.group_by)
        if periods or whole_from >= whole_to:
            return None
        parts = [
            self._filtered(SalesMonthly, SalesMonthly.month, whole_from, whole_to, query),
            *(
                self._filtered(SalesDaily, SalesDaily.day, lo, hi, query)
                for lo, hi in ((query.start, whole_from), (whole_to, after))
                if lo < hi
            ),
        ]
        return union_all(*parts).subquery("product_rows")

    def _filtered(
        self, model: Any, day: Any, start: date, end: date, query: SalesReportQuery
    ) -> Select[Any]:
        """``model``'s rows of days [start, end), narrowed by the query's store and product."""
        columns = [day.label("day"), *(getattr(model, c) for c in PRODUCT_COLUMNS)]
        stmt = select(*columns).where(day >= start, day < end)
        if query.store_id is not None:
            stmt = stmt.where(model.store_id == query.store_id)
        if query.product_id is not None:
            stmt = stmt.where(model.product_id == query.product_id)
        return stmt

    async def sales_report(
        self, query: SalesReportQuery, grain: Grain, *, months: bool = True
    ) -> list[SalesReportRow]:
        """``months=False`` reads the product grain from ``sales_daily`` alone (the rollup's
        tests and bench compare the two)."""
        rollup = self._with_months(query) if grain is Grain.PRODUCT and months else None
        table: Any
        if rollup is not None:
            table = rollup.c
        else:
            table = SalesDaily if grain is Grain.PRODUCT else SalesDailyMix
        keys: dict[SalesReportDimension, Any] = {}
        join_products = D.CATEGORY in query.used()
        for dimension in query.group_by:
            if dimension in (D.DAY, D.WEEK, D.MONTH):
                keys[dimension] = self._period(dimension, table.day)
            elif dimension is D.STORE:
                keys[dimension] = table.store_id
            elif dimension is D.PRODUCT:
                keys[dimension] = table.product_id
            elif dimension is D.CATEGORY:
                keys[dimension] = Product.category
            elif dimension is D.CASHIER:
                keys[dimension] = table.cashier_id
            elif dimension is D.PAYMENT:
                keys[dimension] = table.payment
            else:
                keys[dimension] = table.segment
        labelled = [k.label(f"k_{d.value.lower()}") for d, k in keys.items()]
        if grain is Grain.PRODUCT:
            measures = [
                func.sum(table.sales),
                func.sum(table.units),
                func.sum(table.revenue_cents),
                func.sum(table.discount_cents),
                func.sum(table.returned_units),
                func.sum(table.returned_cents),
            ]
        else:
            measures = [
                func.sum(table.sales),
                func.sum(table.units),
                func.sum(table.revenue_cents),
                func.sum(table.discount_cents),
                func.sum(table.points_redeemed),
                func.sum(table.returned_cents),
            ]
        stmt = select(*labelled, *measures)
        if rollup is not None:
            stmt = stmt.select_from(rollup)  # its parts hold the days, store and product asked
        else:
            stmt = stmt.where(table.day >= query.start, table.day <= query.end)
            if query.store_id is not None:
                stmt = stmt.where(table.store_id == query.store_id)
            if query.product_id is not None:
                stmt = stmt.where(table.product_id == query.product_id)
        if join_products:
            stmt = stmt.join(Product, Product.id == table.product_id)
        if query.category is not None:
            stmt = stmt.where(Product.category == query.category)
        if query.cashier_id is not None:
            stmt = stmt.where(table.cashier_id == query.cashier_id)
        if query.payment is not None:
            stmt = stmt.where(table.payment == query.payment)
        if query.segment is not None:
            stmt = stmt.where(table.segment == query.segment.value)
        if labelled:
            stmt = stmt.group_by(*labelled).order_by(*labelled)
        rows = (await self.session.execute(stmt)).all()
        n = len(labelled)
        found = []
        for row in rows:
            values = dict(zip(keys, row[:n], strict=True))
            sales, units, revenue, discount, sixth, returned = (int(v or 0) for v in row[n:])
            if not sales:
                continue  # an empty total: no matching rows at all
            period = next((values[d] for d in (D.DAY, D.WEEK, D.MONTH) if d in values), None)
            segment = values.get(D.SEGMENT)
            found.append(
                SalesReportRow(
                    day=_as_date(period) if period is not None else None,
                    store_id=values.get(D.STORE),
                    product_id=values.get(D.PRODUCT),
                    category=values.get(D.CATEGORY),
                    cashier_id=values.get(D.CASHIER),
                    payment=values.get(D.PAYMENT),
                    segment=CustomerSegment(segment) if segment else None,
                    sales=sales,
                    units=units,
                    revenue=from_cents(revenue),
                    discount_total=from_cents(discount),
                    points_redeemed=None if grain is Grain.PRODUCT else sixth,
                    returned_units=sixth if grain is Grain.PRODUCT else None,
                    returned_value=from_cents(returned),
                )
            )
        return found

    async def discount_usage(
        self, start: date, end: date, store_id: uuid.UUID | None
    ) -> list[DiscountUsageRow]:
        t = SalesDailyDiscount
        stmt = select(t.source, t.cashier_id, func.sum(t.sales), func.sum(t.discount_cents)).where(
            t.day >= start, t.day <= end
        )
        if store_id is not None:
            stmt = stmt.where(t.store_id == store_id)
        rows = await self.session.execute(
            stmt.group_by(t.source, t.cashier_id).order_by(t.source, t.cashier_id)
        )
        return [DiscountUsageRow(s, c, int(n), int(cents)) for s, c, n, cents in rows.all()]

    async def points_outstanding(self) -> int:
        total = await self.session.scalar(select(func.coalesce(func.sum(PointsBalance.points), 0)))
        return int(total or 0)

    async def consent_counts(self) -> tuple[int, dict[str, int]]:
        """(live customers, subscribed customers per channel)."""
        live = Customer.status.in_(("ACTIVE", "INACTIVE"))
        customers = await self.session.scalar(select(func.count()).where(live))
        rows = await self.session.execute(
            select(MarketingConsent.channel, func.count())
            .join(Customer, Customer.id == MarketingConsent.customer_id)
            .where(MarketingConsent.state == "SUBSCRIBED", live)
            .group_by(MarketingConsent.channel)
        )
        return int(customers or 0), {c: int(n) for c, n in rows.all()}
