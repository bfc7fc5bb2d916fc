"""Loyalty cards, the points ledger and its running balance: SQL only, no rules."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, and_, bindparam, case, func, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.base import conflict_insert, table_of
from app.db.models import BusinessSettings, LoyaltyCard, PointsBalance, PointsEntry
from app.db.repositories.business import SETTINGS_ROW
from app.db.repositories.paging import encode_cursor, group_by, number_cursor, pages_by_parent
from app.db.types import UTCDateTime
from app.domain.loyalty import (
    CardStatus,
    LoyaltyCardRecord,
    PointsEntryRecord,
    PointsKind,
)
from app.domain.records import Page

ZERO = Decimal("0.00")

_TAKE_POINTS_UNNEST = text(
    "UPDATE loyalty_points_balances AS b SET points = b.points - d.n, updated_at = :now "
    "FROM unnest(CAST(:ids AS uuid[]), CAST(:points AS integer[])) AS d(c, n) "
    "WHERE b.customer_id = d.c AND b.points >= d.n RETURNING b.customer_id"
).bindparams(bindparam("now", type_=UTCDateTime()))

# Core column selects, not ORM entities: the till's customer screen reads these.
_CARD = select(
    LoyaltyCard.id,
    LoyaltyCard.customer_id,
    LoyaltyCard.card_number,
    LoyaltyCard.discount_percent,
    LoyaltyCard.status,
    LoyaltyCard.issued_at,
    LoyaltyCard.issued_by,
)


def _card(row: Any) -> LoyaltyCardRecord:
    return LoyaltyCardRecord(
        id=row.id,
        customer_id=row.customer_id,
        card_number=row.card_number,
        discount_percent=row.discount_percent if row.discount_percent is not None else ZERO,
        status=CardStatus(row.status),
        issued_at=row.issued_at,
        issued_by=row.issued_by,
    )


def _entry(row: Any) -> PointsEntryRecord:
    return PointsEntryRecord(
        id=row.id,
        customer_id=row.customer_id,
        kind=PointsKind(row.kind),
        points=row.points,
        reason=row.reason,
        sale_id=row.sale_id,
        card_number=row.card_number,
        at=row.at,
        actor_label=row.actor_label,
    )


class LoyaltyRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    # -- cards -----------------------------------------------------------------------

    async def active_card(self, customer_id: uuid.UUID) -> LoyaltyCardRecord | None:
        row = (
            await self.session.execute(
                _CARD.where(
                    LoyaltyCard.customer_id == customer_id,
                    LoyaltyCard.status == CardStatus.ACTIVE.value,
                )
            )
        ).one_or_none()
        return _card(row) if row else None

    async def card_number_used(self, card_number: str) -> bool:
        """Whether any card, working or replaced, ever had this number."""
        found = await self.session.scalar(
            select(LoyaltyCard.id).where(LoyaltyCard.card_number == card_number)
        )
        return found is not None

    async def insert_card(
        self,
        *,
        customer_id: uuid.UUID,
        card_number: str,
        discount_percent: Decimal,
        issued_at: datetime,
        issued_by: str,
    ) -> LoyaltyCardRecord:
        row = LoyaltyCard(
            id=uuid.uuid4(),
            customer_id=customer_id,
            card_number=card_number,
            discount_percent=discount_percent,
            status=CardStatus.ACTIVE.value,
            issued_at=issued_at,
            issued_by=issued_by,
        )
        self.session.add(row)
        await self.session.flush()
        return _card(row)

    async def retire_card(self, card_id: uuid.UUID, at: datetime) -> bool:
        """False if the card was no longer active (another till replaced it first)."""
        # Before the new card is inserted: one ACTIVE card per customer is a unique index.
        result = await self.session.execute(
            update(LoyaltyCard)
            .where(LoyaltyCard.id == card_id, LoyaltyCard.status == CardStatus.ACTIVE.value)
            .values(status=CardStatus.REPLACED.value, replaced_at=at)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def link_replacement(self, old_id: uuid.UUID, new_id: uuid.UUID) -> None:
        await self.session.execute(
            update(LoyaltyCard).where(LoyaltyCard.id == old_id).values(replaced_by_id=new_id)
        )

    # -- balance -----------------------------------------------------------------------

    async def balance(self, customer_id: uuid.UUID) -> int:
        found = await self.session.scalar(
            select(PointsBalance.points).where(PointsBalance.customer_id == customer_id)
        )
        return int(found or 0)

    async def lock_balance(self, customer_id: uuid.UUID) -> int | None:
        """The balance, locked until commit (PostgreSQL; SQLite has one writer anyway)."""
        found = await self.session.scalar(
            select(PointsBalance.points)
            .where(PointsBalance.customer_id == customer_id)
            .with_for_update()
        )
        return None if found is None else int(found)

    async def add_points(self, customer_id: uuid.UUID, points: int, now: datetime) -> int:
        """Add to the balance, creating its row on the first entry; the new balance."""
        dialect_insert = conflict_insert(self.session.get_bind().dialect.name)
        stmt = (
            dialect_insert(PointsBalance)
            .values(customer_id=customer_id, points=points, updated_at=now)
            .on_conflict_do_update(
                index_elements=[PointsBalance.customer_id],
                set_={"points": PointsBalance.points + points, "updated_at": now},
            )
            .returning(PointsBalance.points)
        )
        return int((await self.session.execute(stmt)).scalar_one())

    async def take_points(self, customer_id: uuid.UUID, points: int, now: datetime) -> int | None:
        """Subtract only if the balance covers it; the new balance, or None if it does not.

        The condition is re-checked against the committed row after a concurrent
        writer's lock is released, so two tills cannot both spend the same points.
        """
        result = await self.session.execute(
            update(PointsBalance)
            .where(PointsBalance.customer_id == customer_id, PointsBalance.points >= points)
            .values(points=PointsBalance.points - points, updated_at=now)
            .returning(PointsBalance.points)
        )
        found = result.scalar_one_or_none()
        return None if found is None else int(found)

    # -- ledger ------------------------------------------------------------------------

    async def insert_entry(
        self,
        *,
        customer_id: uuid.UUID,
        card_id: uuid.UUID | None,
        kind: PointsKind,
        points: int,
        reason: str | None,
        sale_id: uuid.UUID | None,
        at: datetime,
        actor_label: str,
    ) -> int:
        row = PointsEntry(
            customer_id=customer_id,
            card_id=card_id,
            kind=kind.value,
            points=points,
            reason=reason,
            sale_id=sale_id,
            at=at,
            actor_label=actor_label,
        )
        self.session.add(row)
        await self.session.flush()
        return row.id

    async def ledger_sum(self, customer_id: uuid.UUID) -> int:
        found = await self.session.scalar(
            select(func.coalesce(func.sum(PointsEntry.points), 0)).where(
                PointsEntry.customer_id == customer_id
            )
        )
        return int(found or 0)

    async def ledger_pages(
        self, customer_ids: list[uuid.UUID], first: int, after: str | None
    ) -> dict[uuid.UUID, Page[PointsEntryRecord]]:
        """Newest-first pages for many customers in two statements (no N+1 in lists)."""
        before_id = number_cursor(after) if after else None
        conditions: list[ColumnElement[bool]] = [PointsEntry.customer_id.in_(customer_ids)]
        totals = dict(
            (
                await self.session.execute(
                    select(PointsEntry.customer_id, func.count())
                    .where(*conditions)
                    .group_by(PointsEntry.customer_id)
                )
            ).all()
        )
        if before_id is not None:
            conditions.append(PointsEntry.id < before_id)
        rank = (
            func.row_number()
            .over(partition_by=PointsEntry.customer_id, order_by=PointsEntry.id.desc())
            .label("rank")
        )
        ranked = select(PointsEntry.id, rank).where(*conditions).subquery()
        rows = await self.session.execute(
            select(
                PointsEntry.id,
                PointsEntry.customer_id,
                PointsEntry.kind,
                PointsEntry.points,
                PointsEntry.reason,
                PointsEntry.sale_id,
                LoyaltyCard.card_number,
                PointsEntry.at,
                PointsEntry.actor_label,
            )
            .join(ranked, ranked.c.id == PointsEntry.id)
            .outerjoin(LoyaltyCard, LoyaltyCard.id == PointsEntry.card_id)
            .where(ranked.c.rank <= first + 1)
            .order_by(PointsEntry.customer_id, PointsEntry.id.desc())
        )
        entries = group_by(map(_entry, rows), lambda entry: entry.customer_id)
        return pages_by_parent(customer_ids, entries, first, totals, lambda e: encode_cursor(e.id))

    # -- expiry ------------------------------------------------------------------------

    async def points_validity_days(self) -> int | None:
        found = await self.session.scalar(
            select(BusinessSettings.points_validity_days).where(BusinessSettings.id == SETTINGS_ROW)
        )
        return None if found is None else int(found)

    def _unspent_before(self, cutoff: datetime) -> tuple[Any, Any]:
        earned = func.coalesce(
            func.sum(
                case(
                    (and_(PointsEntry.points > 0, PointsEntry.at <= cutoff), PointsEntry.points),
                    else_=0,
                )
            ),
            0,
        )
        spent = func.coalesce(
            func.sum(case((PointsEntry.points < 0, -PointsEntry.points), else_=0)), 0
        )
        return earned, spent

    async def next_positive_balances(self, after: uuid.UUID | None, limit: int) -> uuid.UUID | None:
        """The last of the next ``limit`` customers with points, in id order (a batch's end)."""
        conditions: list[ColumnElement[bool]] = [PointsBalance.points > 0]
        if after is not None:
            conditions.append(PointsBalance.customer_id > after)
        ids = select(PointsBalance.customer_id).where(*conditions)
        page = ids.order_by(PointsBalance.customer_id).limit(limit).subquery()
        # Not max(): PostgreSQL has none for uuid.
        last: uuid.UUID | None = await self.session.scalar(
            select(page.c.customer_id).order_by(page.c.customer_id.desc()).limit(1)
        )
        return last

    async def lock_balances_between(
        self, after: uuid.UUID | None, upto: uuid.UUID
    ) -> dict[uuid.UUID, int]:
        """Positive balances with ``after < customer_id <= upto``, locked until commit.

        Locked in id order, as one statement: two batches, or a batch and a till, never
        wait on each other in a circle (PostgreSQL; SQLite has one writer anyway).
        """
        conditions: list[ColumnElement[bool]] = [
            PointsBalance.customer_id <= upto,
            PointsBalance.points > 0,
        ]
        if after is not None:
            conditions.append(PointsBalance.customer_id > after)
        rows = await self.session.execute(
            select(PointsBalance.customer_id, PointsBalance.points)
            .where(*conditions)
            .order_by(PointsBalance.customer_id)
            .with_for_update()
        )
        return {customer_id: int(points) for customer_id, points in rows}

    async def unspent_before_between(
        self, after: uuid.UUID | None, upto: uuid.UUID, cutoff: datetime
    ) -> dict[uuid.UUID, int]:
        """Points credited by ``cutoff`` that no debit has used up yet, per customer in the
        id range who has any, in one pass.

        Debits use the oldest credits first, so whatever was debited, ever, is taken
        from the credits up to ``cutoff`` before any later one. A range, not an IN list:
        it walks the ledger's (customer_id, id) index in order and binds two values
        however large the batch.
        """
        earned, spent = self._unspent_before(cutoff)
        conditions: list[ColumnElement[bool]] = [PointsEntry.customer_id <= upto]
        if after is not None:
            conditions.append(PointsEntry.customer_id > after)
        rows = await self.session.execute(
            select(PointsEntry.customer_id, earned - spent)
            .where(*conditions)
            .group_by(PointsEntry.customer_id)
            .having(earned > spent)
        )
        return {customer_id: int(unspent) for customer_id, unspent in rows}

    async def active_card_ids_between(
        self, after: uuid.UUID | None, upto: uuid.UUID
    ) -> dict[uuid.UUID, uuid.UUID]:
        """Each working card's id by customer, for ``after < customer_id <= upto``."""
        conditions: list[ColumnElement[bool]] = [
            LoyaltyCard.customer_id <= upto,
            LoyaltyCard.status == CardStatus.ACTIVE.value,
        ]
        if after is not None:
            conditions.append(LoyaltyCard.customer_id > after)
        rows = await self.session.execute(
            select(LoyaltyCard.customer_id, LoyaltyCard.id).where(*conditions)
        )
        return {row.customer_id: row.id for row in rows}

    async def insert_entries(self, entries: list[dict[str, Any]]) -> None:
        """Ledger entries (the columns of ``insert_entry``, ``kind`` as text) in one executemany."""
        if entries:
            await self.session.execute(insert(table_of(PointsEntry)), entries)

    async def take_points_many(self, debits: dict[uuid.UUID, int], now: datetime) -> int:
        """``take_points`` for many customers at once; how many balances it changed.

        Callers hold the balances' locks, so each condition holds; it stays in the WHERE
        so that a caller that did not cannot overdraw a balance, only change fewer rows,
        which the count tells.
        """
        if not debits:
            return 0
        if self.session.get_bind().dialect.name == "postgresql":
            # One statement over two arrays: asyncpg's executemany reports no row count.
            result = await self.session.execute(
                _TAKE_POINTS_UNNEST,
                {"ids": list(debits), "points": list(debits.values()), "now": now},
            )
            return len(result.all())
        result = await self.session.execute(
            update(table_of(PointsBalance))
            .where(
                PointsBalance.customer_id == bindparam("c"),
                PointsBalance.points >= bindparam("n"),
            )
            .values(points=PointsBalance.points - bindparam("n"), updated_at=now),
            [{"c": customer_id, "n": points} for customer_id, points in debits.items()],
        )
        return int(result.rowcount)  # type: ignore[attr-defined]
