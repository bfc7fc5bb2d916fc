"""Customer segments' SQL: activity for classifying, the segment rows, the chain's cuts."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    ColumnElement,
    Integer,
    MetaData,
    Table,
    Uuid,
    case,
    delete,
    exists,
    false,
    func,
    literal,
    select,
    true,
)
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.base import conflict_insert, table_of
from app.db.models import CustomerDaily, CustomerSalesStats, CustomerSegmentRow, Sale, SegmentCuts
from app.db.repositories.sales_aggregates import cents_of, day_start
from app.domain.segments import CustomerSegment, Cuts, SegmentRules

CUTS_ID = 1
WRITE_BATCH = 1000

# Each customer's frequency and spend over the window, grouped once per refresh: the
# cuts and every customer's segment are read from it. Temporary: created and dropped in
# the refresh's transaction.
_staging = MetaData()
WINDOW = Table(
    "segment_window",
    _staging,
    Column("customer_id", Uuid(), primary_key=True),
    Column("frequency", Integer()),
    Column("monetary", BigInteger()),
    prefixes=["TEMPORARY"],
)


class SegmentRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.dialect = session.get_bind().dialect.name

    def _insert(self, model: Any) -> Any:
        return conflict_insert(self.dialect)(table_of(model))

    async def chain_activity(
        self, window_start: date
    ) -> list[tuple[uuid.UUID, int, datetime | None, int, int]]:
        """Every customer who ever bought: (id, purchases, last purchase, purchase days in
        the window, spend in the window net of returns, in cents), from the aggregates."""
        window = (
            select(
                CustomerDaily.customer_id,
                func.count(CustomerDaily.day.distinct()).label("frequency"),
                func.sum(CustomerDaily.revenue_cents - CustomerDaily.returned_cents).label(
                    "monetary"
                ),
            )
            .where(CustomerDaily.day >= window_start)
            .group_by(CustomerDaily.customer_id)
            .subquery()
        )
        stats = CustomerSalesStats
        rows = await self.session.execute(
            select(
                stats.customer_id,
                stats.visits,
                stats.last_purchase_at,
                func.coalesce(window.c.frequency, 0),
                func.coalesce(window.c.monetary, 0),
            )
            .outerjoin(window, window.c.customer_id == stats.customer_id)
            .where(stats.visits > 0)
        )
        return [(c, v, last, int(f), int(m)) for c, v, last, f, m in rows.all()]

    # -- the nightly refresh, set-based ---------------------------------------------

    async def stage_window(self, window_start: date) -> list[tuple[int, int]]:
        """Group the window's ``customer_daily`` per customer into a temporary table; the
        (frequency, spend in cents) of each customer with a purchase in it, for the cuts."""
        connection = await self.session.connection()
        await connection.run_sync(WINDOW.create)
        await self.session.execute(
            WINDOW.insert().from_select(
                ["customer_id", "frequency", "monetary"],
                select(
                    CustomerDaily.customer_id,
                    func.count(CustomerDaily.day.distinct()),
                    func.sum(CustomerDaily.revenue_cents - CustomerDaily.returned_cents),
                )
                .where(CustomerDaily.day >= window_start)
                .group_by(CustomerDaily.customer_id),
            )
        )
        rows = await self.session.execute(
            select(WINDOW.c.frequency, WINDOW.c.monetary).where(WINDOW.c.frequency > 0)
        )
        return [(int(f), int(m)) for f, m in rows.all()]

    async def classify_staged(
        self, today: date, cuts: Cuts, rules: SegmentRules, now: datetime
    ) -> tuple[int, int]:
        """Every customer who ever bought classified in the database by the rule of
        app/domain/segments.py (``classify``) over the staged window, as of ``today``;
        only changed segments written, none over one written after ``now`` (as ``put``
        with ``keep_newer``), and those of customers with no purchase left removed.
        (customers classified, segments changed); drops the staged window."""
        stats = CustomerSalesStats
        window = WINDOW.c
        last = stats.last_purchase_at
        frequency = func.coalesce(window.frequency, 0)
        monetary = func.coalesce(window.monetary, 0)

        def before(days: int) -> datetime:
            # (today - last.date()).days >= days  <=>  last < the start of the day after
            # today - days (UTC days, as ``classify`` counts them).
            return day_start(today - timedelta(days=days - 1))

        loyal = _reaches(frequency, cuts.frequency, rules.loyal_quintile) & _reaches(
            monetary, cuts.monetary_cents, rules.loyal_quintile
        )
        segment = case(
            (last.is_(None) | (last < before(rules.lapsed_days)), CustomerSegment.LAPSED.value),
            (stats.visits == 1, CustomerSegment.NEW.value),
            (last < before(rules.at_risk_days), CustomerSegment.AT_RISK.value),
            (loyal, CustomerSegment.LOYAL.value),
            else_=CustomerSegment.REPEAT.value,
        )
        written_at = literal(now, type_=CustomerSegmentRow.updated_at.type)
        classified = (
            select(stats.customer_id, segment, written_at)
            .select_from(stats)
            .outerjoin(WINDOW, window.customer_id == stats.customer_id)
            .where(stats.visits > 0)
        )
        table = table_of(CustomerSegmentRow)
        stmt = self._insert(CustomerSegmentRow).from_select(
            ["customer_id", "segment", "updated_at"], classified
        )
        written = await self.session.execute(
            stmt.on_conflict_do_update(
                index_elements=["customer_id"],
                set_={"segment": stmt.excluded.segment, "updated_at": stmt.excluded.updated_at},
                where=(table.c.segment != stmt.excluded.segment)
                & (table.c.updated_at <= stmt.excluded.updated_at),
            )
        )
        gone = await self.session.execute(
            delete(CustomerSegmentRow).where(
                CustomerSegmentRow.updated_at <= now,
                ~exists().where(
                    stats.customer_id == CustomerSegmentRow.customer_id, stats.visits > 0
                ),
            )
        )
        customers = await self.session.scalar(
            select(func.count()).select_from(stats).where(stats.visits > 0)
        )
        connection = await self.session.connection()
        await connection.run_sync(WINDOW.drop)
        changed = int(getattr(written, "rowcount", 0) or 0)
        changed += int(getattr(gone, "rowcount", 0) or 0)
        return int(customers or 0), changed

    async def activity_at_sale(
        self, customer_id: uuid.UUID, since: datetime, today: datetime
    ) -> tuple[int, int, Cuts]:
        """Read while a sale of the customer's is being completed (not yet COMPLETED, so
        not counted here): their purchase days since ``since`` before ``today`` (the sale
        makes today one), their spend in cents since ``since``, and the chain's cuts. One
        statement: at the till, today is not in the aggregates yet, so it reads their sales.
        """
        if self.dialect == "sqlite":
            day: Any = func.date(Sale.completed_at)
        else:
            day = func.date(func.timezone("UTC", Sale.completed_at))
        spend = cents_of(self.dialect, Sale.total) - cents_of(self.dialect, Sale.returned_value)

        def cut(column: Any) -> Any:
            return select(column).where(SegmentCuts.id == CUTS_ID).scalar_subquery()

        row = (
            await self.session.execute(
                select(
                    func.count(case((Sale.completed_at < today, day)).distinct()),
                    func.coalesce(func.sum(spend), 0),
                    cut(SegmentCuts.frequency),
                    cut(SegmentCuts.monetary_cents),
                ).where(
                    Sale.customer_id == customer_id,
                    Sale.status == "COMPLETED",
                    Sale.completed_at >= since,
                )
            )
        ).one()
        days, monetary, frequency_cuts, monetary_cuts = row
        cuts = (
            Cuts() if frequency_cuts is None else Cuts(tuple(frequency_cuts), tuple(monetary_cuts))
        )
        return int(days), int(monetary), cuts

    # -- segments ------------------------------------------------------------------

    async def current(self) -> dict[uuid.UUID, str]:
        rows = await self.session.execute(
            select(CustomerSegmentRow.customer_id, CustomerSegmentRow.segment)
        )
        return {row.customer_id: row.segment for row in rows}

    async def get(self, customer_ids: list[uuid.UUID]) -> dict[uuid.UUID, CustomerSegment]:
        rows = await self.session.execute(
            select(CustomerSegmentRow.customer_id, CustomerSegmentRow.segment).where(
                CustomerSegmentRow.customer_id.in_(customer_ids)
            )
        )
        return {c: CustomerSegment(s) for c, s in rows.all()}

    async def put(self, segments: dict[uuid.UUID, CustomerSegment], now: datetime) -> None:
        """Write segments, as the till classifies at sale completion."""
        rows = [
            {"customer_id": c, "segment": s.value, "updated_at": now} for c, s in segments.items()
        ]
        for start in range(0, len(rows), WRITE_BATCH):
            stmt = self._insert(CustomerSegmentRow)
            await self.session.execute(
                stmt.on_conflict_do_update(
                    index_elements=["customer_id"],
                    set_={"segment": stmt.excluded.segment, "updated_at": stmt.excluded.updated_at},
                ),
                rows[start : start + WRITE_BATCH],
            )

    async def remove(self, customer_ids: list[uuid.UUID]) -> None:
        for start in range(0, len(customer_ids), WRITE_BATCH):
            await self.session.execute(
                delete(CustomerSegmentRow).where(
                    CustomerSegmentRow.customer_id.in_(customer_ids[start : start + WRITE_BATCH])
                )
            )

    async def customer_ids(self, segment: CustomerSegment) -> list[uuid.UUID]:
        rows = await self.session.execute(
            select(CustomerSegmentRow.customer_id)
            .where(CustomerSegmentRow.segment == segment.value)
            .order_by(CustomerSegmentRow.customer_id)
        )
        return list(rows.scalars())

    async def counts(
        self, window_start: date, store_id: uuid.UUID | None
    ) -> list[tuple[str, int, int]]:
        """(segment, customers, revenue in cents over the window) per segment.

        With a store: the customers who bought there in the window and what they spent
        there; without: every customer with a segment and what they spent chain-wide.
        """
        spend = select(
            CustomerDaily.customer_id,
            func.sum(CustomerDaily.revenue_cents - CustomerDaily.returned_cents).label("cents"),
        ).where(CustomerDaily.day >= window_start)
        if store_id is not None:
            spend = spend.where(CustomerDaily.store_id == store_id)
        window = spend.group_by(CustomerDaily.customer_id).subquery()
        seg = CustomerSegmentRow
        query = select(seg.segment, func.count(), func.coalesce(func.sum(window.c.cents), 0))
        if store_id is not None:
            query = query.join(window, window.c.customer_id == seg.customer_id)
        else:
            query = query.outerjoin(window, window.c.customer_id == seg.customer_id)
        rows = await self.session.execute(query.group_by(seg.segment))
        return [(s, int(n), int(c)) for s, n, c in rows.all()]

    # -- cuts ----------------------------------------------------------------------

    async def cuts(self) -> Cuts:
        row = await self.session.get(SegmentCuts, CUTS_ID, populate_existing=True)
        if row is None:
            return Cuts()
        return Cuts(tuple(row.frequency), tuple(row.monetary_cents))

    async def put_cuts(self, cuts: Cuts, now: datetime) -> None:
        stmt = self._insert(SegmentCuts).values(
            id=CUTS_ID,
            frequency=list(cuts.frequency),
            monetary_cents=list(cuts.monetary_cents),
            computed_at=now,
        )
        await self.session.execute(
            stmt.on_conflict_do_update(
                index_elements=["id"],
                set_={
                    "frequency": stmt.excluded.frequency,
                    "monetary_cents": stmt.excluded.monetary_cents,
                    "computed_at": stmt.excluded.computed_at,
                },
            )
        )


def _reaches(value: Any, cuts: tuple[int, ...], at_least: int) -> ColumnElement[bool]:
    """``quintile(value, cuts) >= at_least`` (app/domain/segments.py) in SQL: a value is in
    quintile 1 + (the number of cuts below it), and the cuts are sorted."""
    if at_least <= 1:
        return true()
    if not cuts:
        return false()
    result: ColumnElement[bool] = value > cuts[at_least - 2]
    return result
