"""Loyalty tiers' SQL: the tiers, who holds which, and each customer's spend or points over
each tier's window (the rule is app/domain/tiers.py)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Uuid,
    case,
    delete,
    exists,
    func,
    literal,
    null,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.base import conflict_insert, table_of
from app.db.models import CustomerLoyaltyTier, LoyaltyTier, Sale
from app.db.repositories.sales_aggregates import cents_of
from app.domain.tiers import LoyaltyTierRecord, TierBasis


def tier_record(row: Any) -> LoyaltyTierRecord:
    return LoyaltyTierRecord(
        id=row.id,
        name=row.name,
        rank=row.rank,
        basis=TierBasis(row.basis),
        threshold=row.threshold,
        window_days=row.window_days,
        points_multiplier=row.points_multiplier,
        discount_percent=row.discount_percent,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


# A tier change: (customer, the tier held before or None, the tier reached now or None).
TierChange = tuple[uuid.UUID, uuid.UUID | None, uuid.UUID | None]


class LoyaltyTierRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.dialect = session.get_bind().dialect.name
        # Set by any write to the tiers themselves: the cached list goes stale
        # (stamps.LOYALTY_TIERS, bumped after commit).
        self.changed = False

    # -- the tiers -------------------------------------------------------------------

    async def all(self) -> list[LoyaltyTierRecord]:
        rows = await self.session.execute(select(LoyaltyTier).order_by(LoyaltyTier.rank))
        return [tier_record(r) for r in rows.scalars()]

    async def get(self, tier_id: uuid.UUID) -> LoyaltyTierRecord | None:
        row = await self.session.get(LoyaltyTier, tier_id, populate_existing=True)
        return tier_record(row) if row else None

    async def id_by_name_key(self, name_key: str) -> uuid.UUID | None:
        found: uuid.UUID | None = await self.session.scalar(
            select(LoyaltyTier.id).where(LoyaltyTier.name_key == name_key)
        )
        return found

    async def id_by_rank(self, rank: int) -> uuid.UUID | None:
        found: uuid.UUID | None = await self.session.scalar(
            select(LoyaltyTier.id).where(LoyaltyTier.rank == rank)
        )
        return found

    async def insert(self, **values: Any) -> LoyaltyTierRecord:
        row = LoyaltyTier(**values)
        self.session.add(row)
        await self.session.flush()
        self.changed = True
        return tier_record(row)

    async def update(self, tier_id: uuid.UUID, values: dict[str, Any]) -> None:
        await self.session.execute(
            update(LoyaltyTier).where(LoyaltyTier.id == tier_id).values(**values)
        )
        self.changed = True

    async def delete(self, tier_id: uuid.UUID) -> list[uuid.UUID]:
        """Delete the tier; the customers who held it (they hold none now)."""
        held = await self.session.execute(
            delete(CustomerLoyaltyTier)
            .where(CustomerLoyaltyTier.tier_id == tier_id)
            .returning(CustomerLoyaltyTier.customer_id)
            .execution_options(synchronize_session=False)
        )
        holders = [r[0] for r in held.all()]
        await self.session.execute(delete(LoyaltyTier).where(LoyaltyTier.id == tier_id))
        self.changed = True
        return holders

    # -- who holds which ---------------------------------------------------------------

    async def held(self, customer_id: uuid.UUID) -> uuid.UUID | None:
        held = CustomerLoyaltyTier
        return await self.session.scalar(
            select(held.tier_id).where(held.customer_id == customer_id)
        )

    async def assign(self, customer_id: uuid.UUID, tier_id: uuid.UUID, since: datetime) -> None:
        """Give the customer the tier, if it still exists (a till's cached list may name
        one deleted a moment ago: then nothing is written)."""
        table = table_of(CustomerLoyaltyTier)
        stmt = conflict_insert(self.dialect)(table).from_select(
            ["customer_id", "tier_id", "since"],
            select(
                literal(customer_id, Uuid()),
                LoyaltyTier.id,
                literal(since, CustomerLoyaltyTier.since.type),
            ).where(LoyaltyTier.id == tier_id),
        )
        await self.session.execute(
            stmt.on_conflict_do_update(
                index_elements=["customer_id"],
                set_={"tier_id": stmt.excluded.tier_id, "since": stmt.excluded.since},
            )
        )

    async def move_if_held(
        self, changes: Sequence[TierChange], since: datetime
    ) -> list[TierChange]:
        """Write each (customer, old, new) only where the customer still holds ``old``
        (none: no row): a sale that changed their tier after the changes were read (it
        committed in between, on PostgreSQL) wins. The changes written."""
        held = CustomerLoyaltyTier
        table = table_of(held)
        written: list[TierChange] = []
        for customer_id, old, new in changes:
            stmt: Any
            if old is None:
                stmt = (
                    conflict_insert(self.dialect)(table)
                    .values(customer_id=customer_id, tier_id=new, since=since)
                    .on_conflict_do_nothing(index_elements=["customer_id"])
                )
            elif new is None:
                stmt = delete(held).where(held.customer_id == customer_id, held.tier_id == old)
            else:
                stmt = (
                    update(held)
                    .where(held.customer_id == customer_id, held.tier_id == old)
                    .values(tier_id=new, since=since)
                )
            result = await self.session.execute(stmt)
            if result.rowcount:  # type: ignore[attr-defined]
                written.append((customer_id, old, new))
        return written

    async def unassign(self, customer_id: uuid.UUID) -> None:
        await self.session.execute(
            delete(CustomerLoyaltyTier).where(CustomerLoyaltyTier.customer_id == customer_id)
        )

    # -- measures ------------------------------------------------------------------------

    def _measure(self, tier: LoyaltyTierRecord, now: datetime) -> ColumnElement[Any]:
        """A customer's spend (cents) or points over the tier's window, as a SUM over their
        sales: completed ones only (a void counts for nothing), less what came back."""
        if tier.basis is TierBasis.SPEND:
            value: ColumnElement[Any] = cents_of(self.dialect, Sale.total) - cents_of(
                self.dialect, Sale.returned_value
            )
        else:
            # points_reversed: what returns took back, counting points already spent.
            value = Sale.points_earned - Sale.points_reversed
        since = now - timedelta(days=tier.window_days)
        return func.coalesce(func.sum(case((Sale.completed_at >= since, value), else_=0)), 0)

    @staticmethod
    def _counted(tiers: Sequence[LoyaltyTierRecord], now: datetime) -> ColumnElement[bool]:
        """The sales any tier counts at ``now``: completed within the longest window."""
        window = now - timedelta(days=max(t.window_days for t in tiers))
        return (Sale.status == "COMPLETED") & (Sale.completed_at >= window)

    async def measures(
        self, customer_id: uuid.UUID, tiers: Sequence[LoyaltyTierRecord], now: datetime
    ) -> dict[uuid.UUID, int]:
        """The customer's measure for each tier at ``now``, in one statement over their
        sales of the longest window (the index on the customer's sales)."""
        if not tiers:
            return {}
        row = (
            await self.session.execute(
                select(*(self._measure(t, now) for t in tiers)).where(
                    Sale.customer_id == customer_id, self._counted(tiers, now)
                )
            )
        ).one()
        return {t.id: int(v or 0) for t, v in zip(tiers, row, strict=True)}

    async def changes(self, tiers: Sequence[LoyaltyTierRecord], now: datetime) -> list[TierChange]:
        """Every customer whose tier at ``now`` differs from the one they hold, set-based:
        the SQL twin of ``tiers.tier_for`` over the customers with sales in the longest
        window, and everyone holding a tier with none there (they reach none)."""
        held = CustomerLoyaltyTier
        if not tiers:
            rows = await self.session.execute(select(held.customer_id, held.tier_id))
            return [(c, t, None) for c, t in rows.all()]
        counted = self._counted(tiers, now)
        columns = [self._measure(t, now).label(f"m{i}") for i, t in enumerate(tiers)]
        measures = (
            select(Sale.customer_id.label("customer_id"), *columns)
            .where(Sale.customer_id.is_not(None), counted)
            .group_by(Sale.customer_id)
            .subquery()
        )
        by_rank = sorted(enumerate(tiers), key=lambda pair: -pair[1].rank)
        reached = case(
            *(
                (measures.c[f"m{i}"] >= t.threshold_units, literal(t.id, Uuid()))
                for i, t in by_rank
            ),
            else_=null(),
        )
        moved = await self.session.execute(
            select(measures.c.customer_id, held.tier_id, reached)
            .select_from(measures)
            .outerjoin(held, held.customer_id == measures.c.customer_id)
            .where(reached.is_distinct_from(held.tier_id))
        )
        lapsed = await self.session.execute(
            select(held.customer_id, held.tier_id).where(
                ~exists().where(Sale.customer_id == held.customer_id, counted)
            )
        )
        return [(c, old, new) for c, old, new in moved.all()] + [
            (c, old, None) for c, old in lapsed.all()
        ]
