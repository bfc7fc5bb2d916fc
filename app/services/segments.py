"""Customer segments (issue 11 §3): nightly for the chain, at the till for one customer.

The rule itself is app/domain/segments.py. The nightly refresh ranks the chain's
customers from ``customer_daily`` and keeps the quintile cuts it found, so a sale's
completion classifies its customer at once with the same cuts ("first visit" on the
till's next screen), without ranking the chain again.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from app.db.repositories.business import BusinessSettingsRepository
from app.db.repositories.segments import SegmentRepository
from app.domain.money import from_cents
from app.domain.records import Actor, BusinessSettingsRecord
from app.domain.segments import Activity, CustomerSegment, Cuts, classify, quintile_cuts
from app.services.store_scope import scoped_store
from app.services.unit_of_work import Transactions, UnitOfWork, utcnow


@dataclass(frozen=True, slots=True)
class SegmentCount:
    segment: CustomerSegment
    customers: int
    revenue: Decimal


async def refresh_segments(uow: UnitOfWork, today: date) -> dict[str, Any]:
    """Classify every customer who ever bought, as of ``today``; write only the changes.

    Everyone, not only the customers with new activity: the cuts are chain-wide quintiles,
    and the spend cut moves with almost every night's sales, so any customer near it can
    change (docs/analytics.md). Set-based, so that is one GROUP BY of the window and one
    INSERT … SELECT, whatever the number of customers."""
    rules = (await uow.business.get()).segment_rules
    repository = SegmentRepository(uow.session)
    values = await repository.stage_window(today - timedelta(days=rules.window_days))
    cuts = Cuts(quintile_cuts([f for f, _ in values]), quintile_cuts([m for _, m in values]))
    await repository.put_cuts(cuts, uow.now)
    customers, changed = await repository.classify_staged(today, cuts, rules, uow.now)
    return {"customers": customers, "segmentsChanged": changed}


async def classify_at_sale(
    uow: UnitOfWork,
    customer_id: uuid.UUID,
    business: BusinessSettingsRecord,
    visits: int,
    sale_cents: int,
) -> CustomerSegment | None:
    """The customer's segment with the sale being completed in ``uow``, written at once.

    The sale is not yet stored as completed: it adds today as a purchase day and
    ``sale_cents`` to the spend, and ``visits`` (from the running stats) counts it already.
    So the sale's own row is written once, segment included.
    """
    rules = business.segment_rules
    repository = SegmentRepository(uow.session)
    today = uow.now.replace(hour=0, minute=0, second=0, microsecond=0)
    days_before, monetary, cuts = await repository.activity_at_sale(
        customer_id, uow.now - timedelta(days=rules.window_days), today
    )
    segment = classify(Activity(visits, 0, days_before + 1, monetary + sale_cents), cuts, rules)
    if segment is None:
        await repository.remove([customer_id])
    else:
        await repository.put({customer_id: segment}, uow.now)
    return segment


async def segment_customer_ids(tx: Transactions, segment: CustomerSegment) -> list[uuid.UUID]:
    """The customers now in ``segment``: what a marketing send to a segment targets."""
    async with tx.db.read() as session:
        return await SegmentRepository(session).customer_ids(segment)


async def segments_of(
    tx: Transactions, customer_ids: list[uuid.UUID]
) -> dict[uuid.UUID, CustomerSegment]:
    async with tx.db.read() as session:
        return await SegmentRepository(session).get(customer_ids)


async def segment_counts(
    tx: Transactions, actor: Actor | None, store_id: uuid.UUID | None
) -> list[SegmentCount]:
    """Customers and their revenue over the segment window, per segment, every segment
    listed (0 when empty); a store-bound caller gets their own store's."""
    store = scoped_store(actor, store_id, "storeId")
    async with tx.db.read() as session:
        rules = (await BusinessSettingsRepository(session).get()).segment_rules
        start = utcnow().date() - timedelta(days=rules.window_days)
        found = {s: (n, c) for s, n, c in await SegmentRepository(session).counts(start, store)}
    counts = [(s, *found.get(s.value, (0, 0))) for s in CustomerSegment]
    return [SegmentCount(s, n, from_cents(c)) for s, n, c in counts]
