"""The monthly rollup of ``sales_daily`` (``sales_monthly``): kept by deltas, or rebuilt.

A run that rewrites ``sales_daily`` for some spans takes the spans' old rows out of their
months before it, and puts the new rows in after it, in its transaction: the rollup then
costs what the spans' daily rows cost, not a re-read of their whole months. Both steps are
one ``INSERT … SELECT … GROUP BY … ON CONFLICT DO UPDATE`` (SQLite and PostgreSQL alike).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Date,
    DateTime,
    Select,
    and_,
    cast,
    delete,
    false,
    func,
    insert,
    or_,
    select,
    true,
)
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.base import conflict_insert, table_of
from app.db.models import SalesDaily, SalesMonthly
from app.db.repositories.sales_aggregates import Span
from app.domain.reports import first_of_month, next_month

MEASURES = (
    "units",
    "revenue_cents",
    "discount_cents",
    "sales",
    "returned_units",
    "returned_cents",
)


def month_of(dialect: str, day: Any) -> ColumnElement[Any]:
    """The first day of ``day``'s month, as the dialect stores a date."""
    if dialect == "sqlite":
        return func.strftime("%Y-%m-01", day)
    return cast(func.date_trunc("month", cast(day, DateTime)), Date)


class SalesRollupRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.dialect = session.get_bind().dialect.name

    def _daily_in(self, spans: Sequence[Span]) -> ColumnElement[bool]:
        daily = table_of(SalesDaily)
        return or_(
            false(),
            *(
                and_(
                    daily.c.day >= span.start,
                    daily.c.day < span.end,
                    true() if span.store_ids is None else daily.c.store_id.in_(span.store_ids),
                )
                for span in spans
            ),
        )

    def _by_month(self, sign: int = 1) -> Select[Any]:
        """``sales_daily`` summed by product, store and month (times ``sign``)."""
        daily = table_of(SalesDaily)
        month = month_of(self.dialect, daily.c.day)
        return select(
            month.label("month"),
            daily.c.store_id,
            daily.c.product_id,
            *((func.sum(daily.c[m]) * sign).label(m) for m in MEASURES),
        ).group_by(month, daily.c.store_id, daily.c.product_id)

    async def _apply(self, spans: Sequence[Span], sign: int) -> None:
        rows = self._by_month(sign).where(self._daily_in(spans))
        monthly = table_of(SalesMonthly)
        make = conflict_insert(self.dialect)
        stmt = make(monthly).from_select(["month", "store_id", "product_id", *MEASURES], rows)
        await self.session.execute(
            stmt.on_conflict_do_update(
                index_elements=["month", "store_id", "product_id"],
                set_={m: monthly.c[m] + stmt.excluded[m] for m in MEASURES},
            )
        )

    async def take_out(self, spans: Sequence[Span]) -> None:
        """Subtract the spans' ``sales_daily`` rows from their months: call just before
        those rows are rewritten."""
        await self._apply(spans, -1)

    async def put_in(self, spans: Sequence[Span]) -> None:
        """Add the spans' (rewritten) ``sales_daily`` rows to their months, and drop the
        product x store x months left with no sale (a void took their last one)."""
        await self._apply(spans, 1)
        monthly = table_of(SalesMonthly)
        # Each (month, store) the spans touch, once: a night's dirty days are many spans
        # in few months, and each pair is one seek on the key.
        touched: dict[date, set[uuid.UUID] | None] = {}
        for span in spans:
            month = first_of_month(span.start)
            while month < span.end:
                stores = touched.setdefault(month, set())
                if span.store_ids is None or stores is None:
                    touched[month] = None
                else:
                    stores.update(span.store_ids)
                month = next_month(month)
        months = or_(
            false(),
            *(
                and_(
                    monthly.c.month == month,
                    true() if stores is None else monthly.c.store_id.in_(sorted(stores)),
                )
                for month, stores in touched.items()
            ),
        )
        await self.session.execute(delete(monthly).where(monthly.c.sales == 0, months))

    async def rebuild(self) -> int:
        """Every month again from the whole of ``sales_daily``; the rows written."""
        monthly = table_of(SalesMonthly)
        await self.session.execute(delete(monthly))
        result = await self.session.execute(
            insert(monthly).from_select(
                ["month", "store_id", "product_id", *MEASURES], self._by_month()
            )
        )
        return int(getattr(result, "rowcount", 0) or 0)
