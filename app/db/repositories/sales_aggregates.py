"""The daily aggregates' SQL: recompute (day, store) slices from sales, and dirty-day marks.

Each table is written by one ``INSERT … SELECT … GROUP BY`` per slice, so a recompute
costs about what reading the same ``GROUP BY`` costs, on both dialects. Money is summed
as whole cents (``_cents``): SQLite holds money as TEXT, which it would sum as floats.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    ColumnElement,
    Date,
    Integer,
    MetaData,
    Select,
    String,
    Table,
    Uuid,
    and_,
    cast,
    delete,
    false,
    func,
    insert,
    literal,
    literal_column,
    or_,
    select,
    true,
    tuple_,
)
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.base import Base, conflict_insert, table_of
from app.db.models import (
    CustomerDaily,
    Sale,
    SaleDiscount,
    SaleLine,
    SalesDaily,
    SalesDailyDiscount,
    SalesDailyMix,
    SalesDirtyDay,
)

COMPLETED = "COMPLETED"
ONE_DAY = timedelta(days=1)
AGGREGATE_TABLES = (SalesDaily, SalesDailyMix, SalesDailyDiscount, CustomerDaily)


def cents_of(dialect: str, column: Any) -> ColumnElement[int]:
    """A money column as whole cents, per value (summing TEXT money would sum floats)."""
    # A literal, not a parameter: a bound 100 would take the column's Money type.
    hundred: ColumnElement[int] = literal_column("100")
    if dialect == "sqlite":
        return cast(func.round(column * hundred), Integer)
    return cast(column * hundred, BigInteger)


@dataclass(frozen=True, slots=True)
class Span:
    """Days [start, end) at ``store_ids`` (None: every store)."""

    start: date
    end: date
    store_ids: tuple[uuid.UUID, ...] | None = None


# A night's sales and lines, read once (``_recompute_staged``): temporary tables, so
# nothing else sees them; created and dropped in the night's transaction.
_staging = MetaData()
STAGED_SALES = Table(
    "aggregate_night_sales",
    _staging,
    Column("sale_id", Uuid()),
    Column("day", Date()),
    Column("store_id", Uuid()),
    Column("cashier_id", Uuid()),
    Column("customer_id", Uuid()),
    Column("payment", String(16)),
    Column("segment", String(16)),
    Column("total_cents", BigInteger()),
    Column("discount_cents", BigInteger()),
    Column("points_redeemed", Integer()),
    Column("returned_cents", BigInteger()),
    prefixes=["TEMPORARY"],
)
STAGED_LINES = Table(
    "aggregate_night_lines",
    _staging,
    Column("sale_id", Uuid()),
    Column("day", Date()),
    Column("store_id", Uuid()),
    Column("cashier_id", Uuid()),
    Column("payment", String(16)),
    Column("segment", String(16)),
    Column("product_id", Uuid()),
    Column("quantity", Integer()),
    Column("total_cents", BigInteger()),
    Column("discount_cents", BigInteger()),
    Column("returned_quantity", Integer()),
    Column("returned_cents", BigInteger()),
    prefixes=["TEMPORARY"],
)
STAGED = (STAGED_SALES, STAGED_LINES)


def day_start(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


class SalesAggregateRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.dialect = session.get_bind().dialect.name

    # -- dialect helpers -------------------------------------------------------------

    def _day(self) -> ColumnElement[Any]:
        """The UTC calendar day of a sale's completion."""
        if self.dialect == "sqlite":
            # Stored as naive UTC text ('2026-12-06 21:08:11.169843'): its date part.
            return func.date(Sale.completed_at)
        return cast(func.timezone("UTC", Sale.completed_at), Date)

    def _not_indexed(self, column: Any) -> Any:
        """``column`` as SQLite's planner cannot use an index of (``+column``): it has no
        statistics, and would otherwise start from an index of far more rows than the day's."""
        if self.dialect == "sqlite":
            return literal_column(f"+{column.table.name}.{column.name}", type_=column.type)
        return column

    def _cents(self, column: Any) -> ColumnElement[int]:
        return cents_of(self.dialect, column)

    # -- recomputing ---------------------------------------------------------------

    def _where(self, spans: Sequence[Span] | None) -> list[Any]:
        # A sale has its day from completion; one written without it has no day to count on.
        conditions: list[Any] = [Sale.status == COMPLETED, Sale.completed_at.is_not(None)]
        if spans is not None:
            conditions.append(
                or_(
                    false(),
                    *(
                        and_(
                            Sale.completed_at >= day_start(span.start),
                            Sale.completed_at < day_start(span.end),
                            true() if span.store_ids is None else Sale.store_id.in_(span.store_ids),
                        )
                        for span in spans
                    ),
                )
            )
        return conditions

    async def recompute(self, spans: Sequence[Span] | None = None) -> int:
        """Delete and rewrite every aggregate of ``spans`` (None: of all days and stores), in
        one statement per table however many spans; the number of product x store x day
        rows written."""
        for aggregate in AGGREGATE_TABLES:
            table = table_of(aggregate)
            conditions = []
            if spans is not None:
                conditions.append(
                    or_(
                        false(),
                        *(
                            and_(
                                table.c.day >= span.start,
                                table.c.day < span.end,
                                true()
                                if span.store_ids is None
                                else table.c.store_id.in_(span.store_ids),
                            )
                            for span in spans
                        ),
                    )
                )
            await self.session.execute(delete(table).where(*conditions))
        if spans is not None and self.dialect == "sqlite":
            return await self._recompute_staged(spans)
        if spans is not None:
            # PostgreSQL reads a night's sales and lines by hash joins at about the cost of
            # a plain GROUP BY, so per table is cheaper than staging them (writing the
            # staged lines and analyzing them cost more than they saved: bench/README).
            return await self._insert_all(self.selects(spans))
        # A full rebuild writes every row: secondary indexes are built once afterwards
        # (one sort) rather than kept up row by row in another order than the rows come.
        connection = await self.session.connection()
        indexes = [i for model in AGGREGATE_TABLES for i in table_of(model).indexes]
        for index in indexes:
            await connection.run_sync(index.drop)
        written = await self._insert_all(self.selects())
        for index in indexes:
            await connection.run_sync(index.create)
        return written

    async def _insert_all(self, queries: dict[type[Base], Select[Any]]) -> int:
        written = 0
        for model, query in queries.items():
            result = await self.session.execute(
                insert(table_of(model)).from_select(list(query.selected_columns.keys()), query)
            )
            if model is SalesDaily:
                written = int(getattr(result, "rowcount", 0) or 0)
        return written

    async def _recompute_staged(self, spans: Sequence[Span]) -> int:
        """A night's slices on SQLite: their sales and lines read once into two temporary tables,
        which the four GROUP BYs then read (rather than each reading sales and lines
        again: four passes over the day's sales and two over its lines)."""
        connection = await self.session.connection()
        # The staged lines (~15 MB for a 30k-sale day) would spill SQLite's default 2 MB
        # temporary cache to a temporary file.
        await connection.exec_driver_sql("PRAGMA temp.cache_size = -65536")
        for table in STAGED:
            await connection.run_sync(table.create)
        await self.session.execute(
            insert(STAGED_SALES).from_select(
                [c.name for c in STAGED_SALES.c], self._staged_sales(spans)
            )
        )
        await self.session.execute(
            insert(STAGED_LINES).from_select([c.name for c in STAGED_LINES.c], self._staged_lines())
        )
        written = await self._insert_all(self._staged_selects())
        # Dropped with the rest if the night fails: DDL is transactional on both dialects.
        for table in reversed(STAGED):
            await connection.run_sync(table.drop)
        return written

    def _staged_sales(self, spans: Sequence[Span]) -> Select[Any]:
        return select(
            Sale.id,
            self._day(),
            Sale.store_id,
            Sale.cashier_id,
            Sale.customer_id,
            func.coalesce(Sale.payment, literal("CASH")),
            Sale.customer_segment,
            self._cents(Sale.total),
            self._cents(Sale.discount_total),
            Sale.points_redeemed,
            self._cents(Sale.returned_value),
        ).where(*self._where(spans))

    def _staged_lines(self) -> Select[Any]:
        s = STAGED_SALES.c
        return (
            select(
                s.sale_id,
                s.day,
                s.store_id,
                s.cashier_id,
                s.payment,
                s.segment,
                SaleLine.product_id,
                SaleLine.quantity,
                self._cents(SaleLine.total),
                self._cents(SaleLine.discount),
                SaleLine.returned_quantity,
                self._cents(SaleLine.returned_value),
            )
            .select_from(STAGED_SALES)
            .join(SaleLine, SaleLine.sale_id == s.sale_id)
        )

    def _staged_selects(self) -> dict[type[Base], Select[Any]]:
        """The four tables' rows from the staged sales and lines: ``selects`` over them."""
        s, ln = STAGED_SALES.c, STAGED_LINES.c
        products = select(
            ln.day,
            ln.store_id,
            ln.product_id,
            func.sum(ln.quantity).label("units"),
            func.sum(ln.total_cents).label("revenue_cents"),
            func.sum(ln.discount_cents).label("discount_cents"),
            func.count(ln.sale_id.distinct()).label("sales"),
            func.sum(ln.returned_quantity).label("returned_units"),
            func.sum(ln.returned_cents).label("returned_cents"),
        ).group_by(ln.day, ln.store_id, ln.product_id)
        # A sale's units are on its lines: summed there at the mix's own grain (the lines
        # carry their sale's keys), then put beside the sales' sums, a few hundred rows each.
        key = ("day", "store_id", "cashier_id", "payment", "segment")
        sold = (
            select(
                *(s[k] for k in key),
                func.count().label("sales"),
                func.sum(s.total_cents).label("revenue_cents"),
                func.sum(s.discount_cents).label("discount_cents"),
                func.sum(s.points_redeemed).label("points_redeemed"),
                func.sum(s.returned_cents).label("returned_cents"),
            )
            .group_by(*(s[k] for k in key))
            .subquery()
        )
        units = (
            select(*(ln[k] for k in key), func.sum(ln.quantity).label("units"))
            .group_by(*(ln[k] for k in key))
            .subquery()
        )
        mix = (
            select(
                *(sold.c[k] for k in key),
                sold.c.sales,
                func.coalesce(units.c.units, 0).label("units"),
                sold.c.revenue_cents,
                sold.c.discount_cents,
                sold.c.points_redeemed,
                sold.c.returned_cents,
            )
            .select_from(sold)
            .outerjoin(
                units,
                and_(
                    # Equality on the keys never NULL, so PostgreSQL can hash on them; the
                    # NULL-able ones (no cashier, a walk-in's segment) compared NULL-safe.
                    *(sold.c[k] == units.c[k] for k in ("day", "store_id", "payment")),
                    *(
                        sold.c[k].is_not_distinct_from(units.c[k])
                        for k in ("cashier_id", "segment")
                    ),
                ),
            )
        )
        discounts = (
            select(
                s.day,
                s.store_id,
                s.cashier_id,
                SaleDiscount.source.label("source"),
                func.count().label("sales"),
                func.sum(self._cents(SaleDiscount.amount)).label("discount_cents"),
            )
            .select_from(STAGED_SALES)
            .join(SaleDiscount, SaleDiscount.sale_id == s.sale_id)
            .where(SaleDiscount.applied.is_(True))
            .group_by(s.day, s.store_id, s.cashier_id, SaleDiscount.source)
        )
        customers = (
            select(
                s.customer_id,
                s.day,
                s.store_id,
                func.count().label("sales"),
                func.sum(s.total_cents).label("revenue_cents"),
                func.sum(s.returned_cents).label("returned_cents"),
            )
            .where(s.customer_id.is_not(None))
            .group_by(s.day, s.store_id, s.customer_id)
        )
        return {
            SalesDaily: products,
            SalesDailyMix: mix,
            SalesDailyDiscount: discounts,
            CustomerDaily: customers,
        }

    def selects(self, spans: Sequence[Span] | None = None) -> dict[type[Base], Select[Any]]:
        """Each aggregate table's rows of ``spans`` (None: all), as one GROUP BY
        each, labelled by column: what ``recompute`` inserts (and the bench reads bare)."""
        where = self._where(spans)
        day = self._day()
        products = (
            select(
                day.label("day"),
                Sale.store_id.label("store_id"),
                SaleLine.product_id.label("product_id"),
                func.sum(SaleLine.quantity).label("units"),
                func.sum(self._cents(SaleLine.total)).label("revenue_cents"),
                func.sum(self._cents(SaleLine.discount)).label("discount_cents"),
                # Distinct: one product on two lines of a sale is one sale of it.
                func.count(SaleLine.sale_id.distinct()).label("sales"),
                func.sum(SaleLine.returned_quantity).label("returned_units"),
                func.sum(self._cents(SaleLine.returned_value)).label("returned_cents"),
            )
            .select_from(Sale)
            .join(SaleLine, SaleLine.sale_id == Sale.id)
            .where(*where)
            .group_by(day, Sale.store_id, SaleLine.product_id)
        )
        columns = [
            day.label("day"),
            Sale.store_id,
            Sale.cashier_id,
            func.coalesce(Sale.payment, literal("CASH")).label("payment"),
            Sale.customer_segment,
            Sale.total,
            Sale.discount_total,
            Sale.points_redeemed,
            Sale.returned_value,
        ]
        if self.dialect == "sqlite":
            # Each sale with its units by an index probe of its lines: grouped by sale id,
            # SQLite would read all sales in id order to avoid sorting.
            units = (
                select(func.sum(SaleLine.quantity))
                .where(SaleLine.sale_id == Sale.id)
                .correlate(Sale)
                .scalar_subquery()
            )
            sales = select(*columns, func.coalesce(units, 0).label("units")).where(*where)
        else:
            # One hash join and aggregate; grouped by the key, the other columns are allowed.
            sales = (
                select(*columns, func.sum(SaleLine.quantity).label("units"))
                .select_from(Sale)
                .join(SaleLine, SaleLine.sale_id == Sale.id)
                .where(*where)
                .group_by(Sale.id)
            )
        per_sale = sales.subquery()
        s = per_sale.c
        mix = select(
            s.day,
            s.store_id,
            s.cashier_id,
            s.payment,
            s.customer_segment.label("segment"),
            func.count().label("sales"),
            func.sum(s.units).label("units"),
            func.sum(self._cents(s.total)).label("revenue_cents"),
            func.sum(self._cents(s.discount_total)).label("discount_cents"),
            func.sum(s.points_redeemed).label("points_redeemed"),
            func.sum(self._cents(s.returned_value)).label("returned_cents"),
        ).group_by(s.day, s.store_id, s.cashier_id, s.payment, s.customer_segment)
        discounts = (
            select(
                day.label("day"),
                Sale.store_id.label("store_id"),
                Sale.cashier_id.label("cashier_id"),
                SaleDiscount.source.label("source"),
                func.count().label("sales"),
                func.sum(self._cents(SaleDiscount.amount)).label("discount_cents"),
            )
            .select_from(Sale)
            # Sales first, their discounts by sale: SQLite would otherwise read every
            # discount ever applied and look up its sale.
            .join(SaleDiscount, SaleDiscount.sale_id == self._not_indexed(Sale.id))
            .where(*where, SaleDiscount.applied.is_(True))
            .group_by(day, Sale.store_id, Sale.cashier_id, SaleDiscount.source)
        )
        customers = (
            select(
                Sale.customer_id.label("customer_id"),
                day.label("day"),
                Sale.store_id.label("store_id"),
                func.count().label("sales"),
                func.sum(self._cents(Sale.total)).label("revenue_cents"),
                func.sum(self._cents(Sale.returned_value)).label("returned_cents"),
            )
            # Not by the customer index: it would read every customer's sales of all days.
            .where(*where, self._not_indexed(Sale.customer_id).is_not(None))
            # Day first: grouped by customer first, SQLite would read the customer index whole.
            .group_by(day, Sale.store_id, Sale.customer_id)
        )
        return {
            SalesDaily: products,
            SalesDailyMix: mix,
            SalesDailyDiscount: discounts,
            CustomerDaily: customers,
        }

    # -- dirty days ----------------------------------------------------------------

    async def mark(self, day: date, store_id: uuid.UUID, now: datetime) -> None:
        """Mark (day, store) stale; a new ``mark`` each time, even if already marked."""
        table = table_of(SalesDirtyDay)
        stmt = conflict_insert(self.dialect)(table)
        stmt = stmt.values(day=day, store_id=store_id, mark=uuid.uuid4(), marked_at=now)
        await self.session.execute(
            stmt.on_conflict_do_update(
                index_elements=["day", "store_id"],
                set_={"mark": stmt.excluded.mark, "marked_at": stmt.excluded.marked_at},
            )
        )

    async def mark_customer_days(self, customer_id: uuid.UUID, now: datetime) -> None:
        """Mark every (day, store) with a completed sale of the customer (a merge moves them)."""
        day = self._day().label("day")
        rows = await self.session.execute(
            select(day, Sale.store_id)
            .where(
                Sale.customer_id == customer_id,
                Sale.status == COMPLETED,
                Sale.completed_at.is_not(None),
            )
            .group_by(day, Sale.store_id)
        )
        for found_day, store_id in rows.all():
            await self.mark(_as_date(found_day), store_id, now)

    async def dirty(self) -> list[tuple[date, uuid.UUID, uuid.UUID]]:
        """Every mark: (day, store, mark), oldest day first."""
        rows = await self.session.execute(
            select(SalesDirtyDay.day, SalesDirtyDay.store_id, SalesDirtyDay.mark).order_by(
                SalesDirtyDay.day, SalesDirtyDay.store_id
            )
        )
        return [(d, s, m) for d, s, m in rows.all()]

    async def clear(self, marks: Sequence[tuple[date, uuid.UUID, uuid.UUID]]) -> None:
        """Delete the marks done; one re-marked since (another ``mark``) stays for next time."""
        if marks:
            await self.session.execute(
                delete(SalesDirtyDay).where(
                    tuple_(SalesDirtyDay.day, SalesDirtyDay.store_id, SalesDirtyDay.mark).in_(
                        list(marks)
                    )
                )
            )


def _as_date(value: Any) -> date:
    # SQLite's date() answers text.
    return value if isinstance(value, date) else date.fromisoformat(str(value))
