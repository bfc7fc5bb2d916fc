"""Keeping the daily aggregates (issue 11 §2): nightly for the days that changed, or in full.

The incremental rule (docs/analytics.md): the nightly run for slot D recomputes day D-1
for every store, since every sale of it was completed since the last run, then each
(day, store) marked dirty. A sale of an earlier day that changes (a late return, a void,
a merge moving it to another customer) marks its (day, store) in the same transaction
as the change, so the mark exists if and only if the change committed. Changes to
today's sales need no mark: today is recomputed whole by tomorrow's run.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from typing import Any

from app.db.repositories.sales_aggregates import SalesAggregateRepository, Span
from app.db.repositories.sales_rollups import SalesRollupRepository
from app.db.repositories.segments import SegmentRepository
from app.services.scheduled import ScheduledRun, run_once, slot_of
from app.services.segments import refresh_segments
from app.services.unit_of_work import Transactions, UnitOfWork

AGGREGATES_JOB = "refresh_sales_aggregates"
DAILY = timedelta(days=1)
# A week of missed nights is caught up at start-up; longer gaps need rebuild-aggregates.
CATCH_UP_NIGHTS = 7


async def sale_changed(uow: UnitOfWork, store_id: uuid.UUID, completed_at: datetime | None) -> None:
    """Call in the transaction that changes a completed sale (void, return)."""
    if completed_at is None:
        return
    day = completed_at.date()
    if day < uow.now.date():
        await SalesAggregateRepository(uow.session).mark(day, store_id, uow.now)


async def customer_sales_moved(uow: UnitOfWork, customer_id: uuid.UUID) -> None:
    """Call before a merge moves a customer's sales to another: all their days change, and
    the merged customer has no segment of their own any more (the survivor's is redone
    nightly)."""
    await SalesAggregateRepository(uow.session).mark_customer_days(customer_id, uow.now)
    await SegmentRepository(uow.session).remove([customer_id])


async def refresh_days(uow: UnitOfWork, day: date) -> dict[str, Any]:
    """Recompute ``day`` for every store, then every dirty (day, store); then segments."""
    aggregates = SalesAggregateRepository(uow.session)
    marks = await aggregates.dirty()
    # The day whole, and each dirty day at its dirty stores, in one statement per table:
    # the work grows with the days touched, not the statements.
    stale: dict[date, list[uuid.UUID]] = {}
    for dirty_day, store_id, _ in marks:
        if dirty_day != day:
            stale.setdefault(dirty_day, []).append(store_id)
    spans = [Span(day, day + DAILY)] + [
        Span(d, d + DAILY, tuple(stores)) for d, stores in sorted(stale.items())
    ]
    # The monthly rollup follows sales_daily by its delta: the spans' rows out, then in.
    rollups = SalesRollupRepository(uow.session)
    await rollups.take_out(spans)
    rows = await aggregates.recompute(spans)
    await rollups.put_in(spans)
    await aggregates.clear(marks)
    segments = await refresh_segments(uow, day + DAILY)
    return {"rows": rows, "day": day.isoformat(), "dirtyDays": len(marks), **segments}


async def run_nightly(tx: Transactions, scheduled_for: datetime) -> ScheduledRun:
    slot = slot_of(scheduled_for, DAILY)

    async def work(uow: UnitOfWork) -> dict[str, Any]:
        return await refresh_days(uow, slot.date() - DAILY)

    return await run_once(tx, AGGREGATES_JOB, slot, work)


async def rebuild(tx: Transactions) -> dict[str, Any]:
    """Recompute every aggregate from every sale (the monthly rollup from the daily rows),
    and every segment, in one transaction."""

    async def work(uow: UnitOfWork) -> dict[str, Any]:
        aggregates = SalesAggregateRepository(uow.session)
        marks = await aggregates.dirty()
        rows = await aggregates.recompute()
        await SalesRollupRepository(uow.session).rebuild()
        await aggregates.clear(marks)
        segments = await refresh_segments(uow, uow.now.date())
        return {"rows": rows, **segments}

    result = await tx.run(None, work)
    assert result.value is not None, result.errors
    return result.value
