"""SQL for sales, their lines, discounts and returns, and customers' running sales stats."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, case, delete, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.base import conflict_insert, table_of
from app.db.models import (
    CustomerProductUnits,
    CustomerSalesStats,
    Product,
    Sale,
    SaleDiscount,
    SaleLine,
    SaleReturn,
    SaleReturnLine,
)
from app.db.repositories.paging import (
    encode_cursor,
    group_by,
    pages_by_parent,
    time_and_id_cursor,
)
from app.domain.money import from_cents
from app.domain.pricing import DiscountSource
from app.domain.records import Page
from app.domain.sales import (
    PaymentMethod,
    SaleDiscountRecord,
    SaleFilter,
    SaleLineRecord,
    SaleRecord,
    SaleReturnLineRecord,
    SaleReturnRecord,
    SalesStatsRecord,
    SaleStatus,
    TopProductRecord,
)


def _sale(row: Any) -> SaleRecord:
    return SaleRecord(
        id=row.id,
        store_id=row.store_id,
        till_id=row.till_id,
        cashier_id=row.cashier_id,
        cashier_label=row.cashier_label,
        customer_id=row.customer_id,
        status=SaleStatus(row.status),
        version=row.version,
        subtotal=row.subtotal,
        discount_total=row.discount_total,
        total=row.total,
        payment=PaymentMethod(row.payment) if row.payment else None,
        points_redeemed=row.points_redeemed,
        points_amount=row.points_amount,
        paid=row.paid,
        points_earned=row.points_earned,
        returned_value=row.returned_value,
        refunded=row.refunded,
        points_restored=row.points_restored,
        points_reversed=row.points_reversed,
        exchange_for_sale_id=row.exchange_for_sale_id,
        created_at=row.created_at,
        updated_at=row.updated_at,
        completed_at=row.completed_at,
        voided_at=row.voided_at,
        void_reason=row.void_reason,
    )


def _customer_of(sale: SaleRecord) -> uuid.UUID:
    assert sale.customer_id is not None  # read by customer
    return sale.customer_id


def _exchanged_of(sale: SaleRecord) -> uuid.UUID:
    assert sale.exchange_for_sale_id is not None  # read by the sale it exchanges
    return sale.exchange_for_sale_id


def _line(row: Any) -> SaleLineRecord:
    return SaleLineRecord(
        id=row.id,
        sale_id=row.sale_id,
        position=row.position,
        product_id=row.product_id,
        sku=row.sku,
        name=row.name,
        quantity=row.quantity,
        unit_price=row.unit_price,
        amount=row.amount,
        discount=row.discount,
        total=row.total,
        returned_quantity=row.returned_quantity,
        returned_value=row.returned_value,
        list_price=row.list_price,
        price_override_by=row.price_override_by,
        price_override_staff_id=row.price_override_staff_id,
        price_override_till_id=row.price_override_till_id,
    )


def _discount(row: Any) -> SaleDiscountRecord:
    return SaleDiscountRecord(
        sale_id=row.sale_id,
        source=DiscountSource(row.source),
        code=row.code,
        percent=row.percent,
        amount=row.amount,
        applied=row.applied,
    )


def _return(row: SaleReturn) -> SaleReturnRecord:
    return SaleReturnRecord(
        id=row.id,
        sale_id=row.sale_id,
        store_id=row.store_id,
        till_id=row.till_id,
        cashier_id=row.cashier_id,
        cashier_label=row.cashier_label,
        value=row.value,
        refund=row.refund,
        refund_payment=PaymentMethod(row.refund_payment),
        points_restored=row.points_restored,
        points_reversed=row.points_reversed,
        points_unrecovered=row.points_unrecovered,
        reason=row.reason,
        created_at=row.created_at,
    )


def _stats(row: CustomerSalesStats) -> SalesStatsRecord:
    return SalesStatsRecord(
        customer_id=row.customer_id,
        visits=row.visits,
        spent=from_cents(row.spent_cents),
        credit_owed=from_cents(row.credit_cents),
        first_purchase_at=row.first_purchase_at,
        last_purchase_at=row.last_purchase_at,
    )


def _newest_first_after(cursor: str) -> ColumnElement[bool]:
    """Sales after the cursor in ``ORDER BY created_at DESC, id DESC``."""
    last_at, last_id = time_and_id_cursor(cursor)
    return or_(Sale.created_at < last_at, and_(Sale.created_at == last_at, Sale.id < last_id))


def _cursor(sale: SaleRecord) -> str:
    return encode_cursor(sale.created_at.isoformat(), str(sale.id))


class SaleRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    # -- sales ---------------------------------------------------------------------

    async def insert(self, **values: Any) -> SaleRecord:
        """The new sale as stored (its defaults filled in), without reading it back."""
        row = await self.session.scalar(
            insert(Sale).values(**values).returning(Sale).execution_options(populate_existing=True)
        )
        assert row is not None  # an INSERT … RETURNING always returns its row
        return _sale(row)

    async def get(self, sale_id: uuid.UUID) -> SaleRecord | None:
        row = await self.session.get(Sale, sale_id, populate_existing=True)
        return _sale(row) if row else None

    async def get_many(self, sale_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, SaleRecord]:
        rows = await self.session.scalars(select(Sale).where(Sale.id.in_(sale_ids)))
        return {r.id: _sale(r) for r in rows}

    async def claim(
        self, sale_id: uuid.UUID, status: SaleStatus, at: datetime
    ) -> SaleRecord | None:
        """Bump the version if the sale is in ``status``: the first statement of every change.

        On PostgreSQL the row stays locked until commit, so a second till's change to the
        same sale waits and then sees the first one's result; SQLite has one writer.
        The sale as claimed comes back with it (RETURNING), or None.
        """
        row = await self.session.scalar(
            update(Sale)
            .where(Sale.id == sale_id, Sale.status == status.value)
            .values(version=Sale.version + 1, updated_at=at)
            .returning(Sale)
            .execution_options(populate_existing=True)
        )
        return _sale(row) if row else None

    async def update(self, sale_id: uuid.UUID, values: dict[str, Any]) -> None:
        await self.session.execute(update(Sale).where(Sale.id == sale_id).values(**values))

    async def update_returning(self, sale_id: uuid.UUID, values: dict[str, Any]) -> SaleRecord:
        """``update``, and the sale as it now is: a command answers without reading it back."""
        row = await self.session.scalar(
            update(Sale)
            .where(Sale.id == sale_id)
            .values(**values)
            .returning(Sale)
            .execution_options(populate_existing=True)
        )
        if row is None:  # callers claimed the sale first, so it is there
            raise LookupError(f"sale {sale_id} vanished inside its own transaction")
        return _sale(row)

    async def page(self, where: SaleFilter, first: int, after: str | None) -> Page[SaleRecord]:
        conditions: list[ColumnElement[bool]] = []
        if where.store_id is not None:
            conditions.append(Sale.store_id == where.store_id)
        if where.till_id is not None:
            conditions.append(Sale.till_id == where.till_id)
        if where.cashier_id is not None:
            conditions.append(Sale.cashier_id == where.cashier_id)
        if where.customer_id is not None:
            conditions.append(Sale.customer_id == where.customer_id)
        if where.status is not None:
            conditions.append(Sale.status == where.status.value)
        if where.created_from is not None:
            conditions.append(Sale.created_at >= where.created_from)
        if where.created_to is not None:
            conditions.append(Sale.created_at < where.created_to)
        total = await self.session.scalar(select(func.count()).select_from(Sale).where(*conditions))
        if after:
            conditions.append(_newest_first_after(after))
        rows = list(
            await self.session.scalars(
                select(Sale)
                .where(*conditions)
                .order_by(Sale.created_at.desc(), Sale.id.desc())
                .limit(first + 1)
            )
        )
        return Page(
            items=[(_cursor(r), r) for r in map(_sale, rows[:first])],
            has_next=len(rows) > first,
            total=total or 0,
        )

    async def customer_pages(
        self, customer_ids: list[uuid.UUID], first: int, after: str | None
    ) -> tuple[dict[uuid.UUID, Page[SaleRecord]], dict[uuid.UUID, list[SaleDiscountRecord]]]:
        """Newest-first pages of many customers' sales, with each customer's count of
        sales and each sale's applied discount, in one statement (no N+1); a second one
        counts those whose cursor is past their last sale."""
        sales = table_of(Sale)
        s = sales.c
        offers = table_of(SaleDiscount)
        applied = offers.c
        newest_first = (s.created_at.desc(), s.id.desc())
        conditions: list[ColumnElement[bool]] = [s.customer_id.in_(customer_ids)]
        wanted = _newest_first_after(after) if after else None
        columns = (
            applied.source.label("applied_source"),
            applied.code.label("applied_code"),
            applied.percent.label("applied_percent"),
            applied.amount.label("applied_amount"),
        )
        # One applied offer at most per sale (a unique index): no sale comes twice.
        with_applied = and_(applied.sale_id == s.id, applied.applied)
        if len(customer_ids) == 1:
            # The customer screen: a range of the (customer, created) index, read no
            # further than the page, instead of ranking every sale they ever made; the
            # count is not correlated, so it runs once, on the same index.
            every = sales.alias("every")
            total = (
                select(func.count())
                .select_from(every)
                .where(every.c.customer_id == customer_ids[0])
                .scalar_subquery()
            )
            if wanted is not None:
                conditions.append(wanted)
            query = (
                select(sales, total.label("sales_count"), *columns)
                .outerjoin(offers, with_applied)
                .where(*conditions)
                .order_by(s.customer_id, *newest_first)
                .limit(first + 1)
            )
        else:
            # Ranked among the sales after the cursor: a running count of those.
            rank = (
                func.sum(case((wanted, 1), else_=0)) if wanted is not None else func.row_number()
            ).over(partition_by=s.customer_id, order_by=newest_first)
            ranked = (
                select(
                    s.id,
                    rank.label("rank"),
                    func.count().over(partition_by=s.customer_id).label("sales_count"),
                )
                .where(*conditions)
                .subquery()
            )
            if wanted is not None:
                conditions.append(wanted)
            query = (
                select(sales, ranked.c.sales_count, *columns)
                .join(ranked, ranked.c.id == s.id)
                .outerjoin(offers, with_applied)
                .where(*conditions, ranked.c.rank <= first + 1)
                .order_by(s.customer_id, *newest_first)
            )
        rows = list(await self.session.execute(query))
        totals = {r.customer_id: int(r.sales_count) for r in rows}
        discounts = {
            r.id: [
                SaleDiscountRecord(
                    sale_id=r.id,
                    source=DiscountSource(r.applied_source),
                    code=r.applied_code,
                    percent=r.applied_percent,
                    amount=r.applied_amount,
                    applied=True,
                )
            ]
            if r.applied_source is not None
            else []
            for r in rows
        }
        unseen = [i for i in customer_ids if i not in totals]
        if after and unseen:
            counted = await self.session.execute(
                select(s.customer_id, func.count())
                .where(s.customer_id.in_(unseen))
                .group_by(s.customer_id)
            )
            totals.update({customer_id: int(n) for customer_id, n in counted})
        found = group_by(map(_sale, rows), _customer_of)
        return pages_by_parent(customer_ids, found, first, totals, _cursor), discounts

    async def exchanges_for(
        self, sale_ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, list[SaleRecord]]:
        """The sales that replaced goods returned from each of these sales."""
        rows = await self.session.scalars(
            select(Sale)
            .where(Sale.exchange_for_sale_id.in_(sale_ids))
            .order_by(Sale.created_at, Sale.id)
        )
        return group_by(map(_sale, rows), _exchanged_of)

    async def completed_span(
        self, customer_id: uuid.UUID
    ) -> tuple[datetime | None, datetime | None]:
        """First and last completion among a customer's completed sales."""
        row = (
            await self.session.execute(
                select(func.min(Sale.completed_at), func.max(Sale.completed_at)).where(
                    Sale.customer_id == customer_id,
                    Sale.status == SaleStatus.COMPLETED.value,
                )
            )
        ).one()
        return row[0], row[1]

    # -- lines ---------------------------------------------------------------------

    async def lines(self, sale_id: uuid.UUID) -> list[SaleLineRecord]:
        return (await self.lines_for([sale_id])).get(sale_id, [])

    async def lines_for(
        self, sale_ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, list[SaleLineRecord]]:
        lines = table_of(SaleLine)
        rows = await self.session.execute(
            select(lines)
            .where(lines.c.sale_id.in_(sale_ids))
            .order_by(lines.c.sale_id, lines.c.position)
        )
        return group_by(map(_line, rows), lambda line: line.sale_id)

    async def insert_lines(self, rows: list[dict[str, Any]]) -> None:
        if rows:
            await self.session.execute(insert(SaleLine), rows)

    async def update_lines(self, rows: list[dict[str, Any]]) -> None:
        """Several lines by id in one executemany (``id`` plus the values in each dict)."""
        if rows:
            await self.session.execute(update(SaleLine), rows)

    async def delete_line(self, line_id: uuid.UUID) -> None:
        await self.session.execute(delete(SaleLine).where(SaleLine.id == line_id))

    async def add_returned(self, line_id: uuid.UUID, quantity: int, value_after: Any) -> bool:
        """Count ``quantity`` more units as returned, unless that is more than were sold."""
        result = await self.session.execute(
            update(SaleLine)
            .where(
                SaleLine.id == line_id,
                SaleLine.returned_quantity + quantity <= SaleLine.quantity,
            )
            .values(
                returned_quantity=SaleLine.returned_quantity + quantity,
                returned_value=value_after,
            )
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    # -- discounts -----------------------------------------------------------------

    async def replace_discounts(self, sale_id: uuid.UUID, rows: list[dict[str, Any]]) -> None:
        await self.session.execute(delete(SaleDiscount).where(SaleDiscount.sale_id == sale_id))
        await self.insert_discounts(sale_id, rows)

    async def insert_discounts(self, sale_id: uuid.UUID, rows: list[dict[str, Any]]) -> None:
        if rows:
            await self.session.execute(
                insert(SaleDiscount), [{**r, "sale_id": sale_id} for r in rows]
            )

    async def discounts_for(
        self, sale_ids: Sequence[uuid.UUID], *, applied_only: bool = False
    ) -> dict[uuid.UUID, list[SaleDiscountRecord]]:
        offers = table_of(SaleDiscount)
        query = select(offers).where(offers.c.sale_id.in_(sale_ids))
        if applied_only:
            query = query.where(offers.c.applied)
        rows = await self.session.execute(query.order_by(offers.c.sale_id, offers.c.id))
        return group_by(map(_discount, rows), lambda discount: discount.sale_id)

    # -- returns -------------------------------------------------------------------

    async def insert_return(self, lines: list[dict[str, Any]], **values: Any) -> SaleReturnRecord:
        row = SaleReturn(**values)
        self.session.add(row)
        await self.session.flush()
        await self.session.execute(
            insert(SaleReturnLine), [{**line, "return_id": row.id} for line in lines]
        )
        return _return(row)

    async def returns_for(
        self, sale_ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, list[SaleReturnRecord]]:
        rows = await self.session.scalars(
            select(SaleReturn)
            .where(SaleReturn.sale_id.in_(sale_ids))
            .order_by(SaleReturn.sale_id, SaleReturn.created_at, SaleReturn.id)
        )
        return group_by(map(_return, rows), lambda found: found.sale_id)

    async def return_lines_for(
        self, return_ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, list[SaleReturnLineRecord]]:
        rows = await self.session.scalars(
            select(SaleReturnLine)
            .where(SaleReturnLine.return_id.in_(return_ids))
            .order_by(SaleReturnLine.return_id, SaleReturnLine.id)
        )
        return group_by(
            (SaleReturnLineRecord(r.return_id, r.sale_line_id, r.quantity, r.value) for r in rows),
            lambda line: line.return_id,
        )

    # -- customers' running stats --------------------------------------------------

    def _upsert(self) -> Any:
        return conflict_insert(self.session.get_bind().dialect.name)

    async def _ensure_stats(self, customer_id: uuid.UUID) -> None:
        await self.session.execute(
            self._upsert()(CustomerSalesStats)
            .values(customer_id=customer_id, visits=0, spent_cents=0, credit_cents=0)
            .on_conflict_do_nothing(index_elements=["customer_id"])
        )

    async def add_history(
        self, customer_id: uuid.UUID, visits: int, cents: int, first: datetime, last: datetime
    ) -> None:
        """Take in past sales written straight into the tables (the demo's year of history),
        all older than any sale recorded through the till."""
        stats = CustomerSalesStats
        await self.session.execute(
            self._upsert()(stats)
            .values(
                customer_id=customer_id,
                visits=visits,
                spent_cents=cents,
                credit_cents=0,
                first_purchase_at=first,
                last_purchase_at=last,
            )
            .on_conflict_do_update(
                index_elements=["customer_id"],
                set_={
                    "visits": stats.visits + visits,
                    "spent_cents": stats.spent_cents + cents,
                    # History is older than any sale recorded through the till.
                    "first_purchase_at": first,
                    "last_purchase_at": func.coalesce(stats.last_purchase_at, last),
                },
            )
        )

    async def add_visit(self, customer_id: uuid.UUID, cents: int, at: datetime) -> int:
        """Count a completed sale in the customer's running stats; their visits now."""
        stats = CustomerSalesStats
        visits = await self.session.scalar(
            self._upsert()(stats)
            .values(
                customer_id=customer_id,
                visits=1,
                spent_cents=cents,
                credit_cents=0,
                first_purchase_at=at,
                last_purchase_at=at,
            )
            .on_conflict_do_update(
                index_elements=["customer_id"],
                set_={
                    "visits": stats.visits + 1,
                    "spent_cents": stats.spent_cents + cents,
                    "first_purchase_at": func.coalesce(stats.first_purchase_at, at),
                    "last_purchase_at": at,
                },
            )
            .returning(stats.visits)
        )
        return int(visits or 0)

    async def remove_visit(self, customer_id: uuid.UUID, cents: int) -> None:
        stats = CustomerSalesStats
        await self.session.execute(
            update(stats)
            .where(stats.customer_id == customer_id)
            .values(visits=stats.visits - 1, spent_cents=stats.spent_cents - cents)
        )

    async def set_span(
        self, customer_id: uuid.UUID, span: tuple[datetime | None, datetime | None]
    ) -> None:
        stats = CustomerSalesStats
        await self.session.execute(
            update(stats)
            .where(stats.customer_id == customer_id)
            .values(first_purchase_at=span[0], last_purchase_at=span[1])
        )

    async def add_spent(self, customer_id: uuid.UUID, cents: int) -> None:
        stats = CustomerSalesStats
        await self.session.execute(
            update(stats)
            .where(stats.customer_id == customer_id)
            .values(spent_cents=stats.spent_cents + cents)
        )

    async def charge_credit(self, customer_id: uuid.UUID, cents: int, limit_cents: int) -> bool:
        """Owe ``cents`` more on account, unless that goes over the limit (one statement)."""
        await self._ensure_stats(customer_id)
        stats = CustomerSalesStats
        result = await self.session.execute(
            update(stats)
            .where(stats.customer_id == customer_id, stats.credit_cents + cents <= limit_cents)
            .values(credit_cents=stats.credit_cents + cents)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def pay_credit(self, customer_id: uuid.UUID, cents: int) -> int | None:
        """Take ``cents`` off what is owed, unless that is more than owed; what is left."""
        stats = CustomerSalesStats
        return await self.session.scalar(
            update(stats)
            .where(stats.customer_id == customer_id, stats.credit_cents >= cents)
            .values(credit_cents=stats.credit_cents - cents)
            .returning(stats.credit_cents)
        )

    async def release_credit(self, customer_id: uuid.UUID, cents: int) -> None:
        stats = CustomerSalesStats
        owed = case((stats.credit_cents > cents, stats.credit_cents - cents), else_=0)
        await self.session.execute(
            update(stats).where(stats.customer_id == customer_id).values(credit_cents=owed)
        )

    async def stats_for(
        self, customer_ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, SalesStatsRecord]:
        rows = await self.session.scalars(
            select(CustomerSalesStats).where(CustomerSalesStats.customer_id.in_(customer_ids))
        )
        return {r.customer_id: _stats(r) for r in rows}

    # -- customers' units kept per product ------------------------------------------

    async def add_units(self, customer_id: uuid.UUID, units: dict[uuid.UUID, int]) -> None:
        """Count units bought (negative: voided or returned) per product, in one statement.

        In product order, so two transactions touching the same rows lock them in the same
        order (the customer's stats row, locked first, already queues their sales).
        """
        if not units:
            return
        kept = CustomerProductUnits
        upsert = self._upsert()(kept).values(
            [
                {"customer_id": customer_id, "product_id": product_id, "units": n}
                for product_id, n in sorted(units.items())
            ]
        )
        await self.session.execute(
            upsert.on_conflict_do_update(
                index_elements=["customer_id", "product_id"],
                set_={"units": kept.units + upsert.excluded.units},
            )
        )

    async def top_products(
        self, customer_ids: Sequence[uuid.UUID], limit: int
    ) -> dict[uuid.UUID, list[TopProductRecord]]:
        """Each customer's most bought products (units kept, returns taken off), by the
        running units: as many rows as products they bought, however long the history."""
        kept = table_of(CustomerProductUnits).c
        product = table_of(Product).c
        ranked = (
            select(
                kept.customer_id,
                kept.product_id,
                product.sku,
                product.name,
                kept.units,
                func.row_number()
                .over(partition_by=kept.customer_id, order_by=(kept.units.desc(), product.sku))
                .label("rank"),
            )
            .join_from(
                table_of(CustomerProductUnits), table_of(Product), product.id == kept.product_id
            )
            .where(kept.customer_id.in_(customer_ids), kept.units > 0)
            .subquery()
        )
        rows = await self.session.execute(
            select(ranked)
            .where(ranked.c.rank <= limit)
            .order_by(ranked.c.customer_id, ranked.c.rank)
        )
        found: dict[uuid.UUID, list[TopProductRecord]] = defaultdict(list)
        for r in rows:
            found[r.customer_id].append(TopProductRecord(r.product_id, r.sku, r.name, r.units))
        return found
