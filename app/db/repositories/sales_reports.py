"""Reports' SQL: GROUP BYs over the daily aggregates (never over sales or their lines).

Product-grain reports read a range's months from the monthly rollup (``sales_monthly``)
and, for a partial month at either end, the fewest days from ``sales_daily`` (added, or
subtracted from the whole month: ``month_plan``), in one ``UNION ALL``: a year is then ~13
rows a product and store instead of ~365. A report by
DAY or WEEK needs the days, so it reads ``sales_daily`` alone.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import Date, DateTime, Select, cast, func, select, union_all
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
from app.domain.money import from_cents
from app.domain.reports import (
    Days,
    Grain,
    SalesReportDimension,
    SalesReportQuery,
    SalesReportRow,
    month_plan,
)
from app.domain.segments import CustomerSegment

D = SalesReportDimension
# In the order rows are read back: sales, units, revenue, discounts, then the sixth.
PRODUCT_MEASURES = (
    "sales",
    "units",
    "revenue_cents",
    "discount_cents",
    "returned_units",
    "returned_cents",
)
MIX_MEASURES = (
    "sales",
    "units",
    "revenue_cents",
    "discount_cents",
    "points_redeemed",
    "returned_cents",
)
STORED_COLUMN = {
    D.DAY: "day",
    D.WEEK: "day",
    D.MONTH: "day",
    D.STORE: "store_id",
    D.PRODUCT: "product_id",
    D.CATEGORY: "product_id",
    D.CASHIER: "cashier_id",
    D.PAYMENT: "payment",
    D.SEGMENT: "segment",
}


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

    def _product_rows(self, query: SalesReportQuery, months: bool) -> Any:
        """The product grain's rows of the query's days: ``sales_daily``'s, or (``months``,
        no DAY or WEEK asked) the rollup's months of the plan with the daily rows it adds
        and, negated, those it subtracts. A rollup row's ``day`` is its month's first day."""
        plan = month_plan(query.start, query.end) if months else None
        if plan is None or {D.DAY, D.WEEK} & set(query.group_by):
            days = (query.start, query.end + timedelta(days=1))
            return self._filtered(SalesDaily, SalesDaily.day, days, query)
        parts = [
            self._filtered(SalesMonthly, SalesMonthly.month, plan.months, query),
            *(self._filtered(SalesDaily, SalesDaily.day, d, query) for d in plan.add),
            *(self._filtered(SalesDaily, SalesDaily.day, d, query, -1) for d in plan.subtract),
        ]
        return union_all(*parts).subquery("product_rows")

    def _filtered(
        self, model: Any, day: Any, days: Days, query: SalesReportQuery, sign: int = 1
    ) -> Select[Any]:
        """``model``'s rows of days [start, end), narrowed by the query's store and product."""
        measures = [getattr(model, m) for m in PRODUCT_MEASURES]
        stmt = select(
            day.label("day"),
            model.store_id,
            model.product_id,
            *(m if sign > 0 else (-m).label(m.key) for m in measures),
        ).where(day >= days[0], day < days[1])
        if query.store_id is not None:
            stmt = stmt.where(model.store_id == query.store_id)
        if query.product_id is not None:
            stmt = stmt.where(model.product_id == query.product_id)
        return stmt

    def _mix_rows(self, query: SalesReportQuery) -> Select[Any]:
        t = SalesDailyMix
        stored = (t.day, t.store_id, t.cashier_id, t.payment, t.segment)
        stmt = select(*stored, *(getattr(t, m) for m in MIX_MEASURES)).where(
            t.day >= query.start, t.day <= query.end
        )
        if query.store_id is not None:
            stmt = stmt.where(t.store_id == query.store_id)
        if query.cashier_id is not None:
            stmt = stmt.where(t.cashier_id == query.cashier_id)
        if query.payment is not None:
            stmt = stmt.where(t.payment == query.payment)
        if query.segment is not None:
            stmt = stmt.where(t.segment == query.segment.value)
        return stmt

    async def sales_report(
        self, query: SalesReportQuery, grain: Grain, *, months: bool = True
    ) -> list[SalesReportRow]:
        """One statement. Rows are first summed by the stored columns the dimensions come
        from (day, store, product, …), then by the dimensions: a week, a month or a category
        is then worked out once a group, not once a stored row.

        ``months=False`` reads the product grain from ``sales_daily`` alone (the rollup's
        tests and bench compare the two)."""
        if grain is Grain.PRODUCT:
            rows_of = self._product_rows(query, months)
            names = PRODUCT_MEASURES
        else:
            rows_of = self._mix_rows(query)
            names = MIX_MEASURES
        source = rows_of.subquery("rows_of") if isinstance(rows_of, Select) else rows_of
        used = query.used()
        stored: dict[str, Any] = {}
        for dimension in query.group_by:
            column = STORED_COLUMN[dimension]
            stored[column] = source.c[column]
        if D.CATEGORY in used:
            stored["product_id"] = source.c.product_id
        base: Any = source
        if {D.WEEK, D.MONTH, D.CATEGORY} & used:
            grouped = select(*stored.values(), *(func.sum(source.c[m]).label(m) for m in names))
            if stored:
                grouped = grouped.group_by(*stored.values())
            base = grouped.subquery("grouped")
        table = base.c
        measures = [func.sum(table[m]) for m in names]
        keys: dict[SalesReportDimension, Any] = {}
        for dimension in query.group_by:
            if dimension in (D.DAY, D.WEEK, D.MONTH):
                keys[dimension] = self._period(dimension, table.day)
            elif dimension is D.CATEGORY:
                keys[dimension] = Product.category
            else:
                keys[dimension] = table[STORED_COLUMN[dimension]]
        labelled = [k.label(f"k_{d.value.lower()}") for d, k in keys.items()]
        stmt = select(*labelled, *measures).select_from(base)
        if D.CATEGORY in used:
            stmt = stmt.join(Product, Product.id == table.product_id)
        if query.category is not None:
            stmt = stmt.where(Product.category == query.category)
        if labelled:
            stmt = stmt.group_by(*labelled).order_by(*labelled)
        rows = (await self.session.execute(stmt)).all()
        n = len(labelled)
        at = {d: i for i, d in enumerate(keys)}
        # Positions looked up once: a report can be 10,000 rows.
        period = next((at[d] for d in (D.DAY, D.WEEK, D.MONTH) if d in at), None)
        store, product, category, cashier, payment, segment = (
            at.get(d) for d in (D.STORE, D.PRODUCT, D.CATEGORY, D.CASHIER, D.PAYMENT, D.SEGMENT)
        )
        by_product = grain is Grain.PRODUCT
        found = []
        for row in rows:
            sales, units, revenue, discount, sixth, returned = (int(v or 0) for v in row[n:])
            if not sales:
                continue  # an empty total: no matching rows at all
            found.append(
                SalesReportRow(
                    day=None if period is None else _as_date(row[period]),
                    store_id=None if store is None else row[store],
                    product_id=None if product is None else row[product],
                    category=None if category is None else row[category],
                    cashier_id=None if cashier is None else row[cashier],
                    payment=None if payment is None else row[payment],
                    segment=None
                    if segment is None or row[segment] is None
                    else CustomerSegment(row[segment]),
                    sales=sales,
                    units=units,
                    revenue=from_cents(revenue),
                    discount_total=from_cents(discount),
                    points_redeemed=None if by_product else sixth,
                    returned_units=sixth if by_product else None,
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
