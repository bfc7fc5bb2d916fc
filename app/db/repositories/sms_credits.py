from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.base import table_of
from app.db.models import Notification, SmsCreditBalance, SmsCreditEntry

BALANCE_ROW = 1


@dataclass(frozen=True, slots=True)
class SmsCreditBalanceRecord:
    available: int
    reserved: int


class SmsCreditRepository:
    """The balance row and its ledger. Every change to the balance is one conditional UPDATE,
    so concurrent reservations take turns on the row and none can take it below zero."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self) -> SmsCreditBalanceRecord:
        row = (
            await self.session.execute(
                select(SmsCreditBalance.available, SmsCreditBalance.reserved).where(
                    SmsCreditBalance.id == BALANCE_ROW
                )
            )
        ).one_or_none()
        if row is None:  # the migration creates it
            raise LookupError("no SMS credit balance: run `poscrm migrate`")
        return SmsCreditBalanceRecord(available=row[0], reserved=row[1])

    async def _move(self, now: datetime, *conditions: object, **values: object) -> bool:
        result = await self.session.execute(
            update(SmsCreditBalance)
            .where(SmsCreditBalance.id == BALANCE_ROW, *conditions)  # type: ignore[arg-type]
            .values(updated_at=now, **values)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def top_up(self, segments: int, ceiling: int, now: datetime) -> bool:
        """Add to ``available`` unless that would take it above ``ceiling``."""
        return await self._move(
            now,
            SmsCreditBalance.available <= ceiling - segments,
            available=SmsCreditBalance.available + segments,
        )

    async def reserve(self, segments: int, now: datetime) -> bool:
        """Move ``segments`` from available to reserved, only if that many are available."""
        return await self._move(
            now,
            SmsCreditBalance.available >= segments,
            available=SmsCreditBalance.available - segments,
            reserved=SmsCreditBalance.reserved + segments,
        )

    async def spend(self, segments: int, now: datetime) -> bool:
        """Take reserved credits for good: the message went out."""
        return await self._move(
            now,
            SmsCreditBalance.reserved >= segments,
            reserved=SmsCreditBalance.reserved - segments,
        )

    async def release(self, segments: int, now: datetime) -> bool:
        """Give reserved credits back to available: the message will not go out."""
        return await self._move(
            now,
            SmsCreditBalance.reserved >= segments,
            reserved=SmsCreditBalance.reserved - segments,
            available=SmsCreditBalance.available + segments,
        )

    async def record(
        self,
        kind: str,
        segments: int,
        at: datetime,
        *,
        notification_id: uuid.UUID | None = None,
        reference: str | None = None,
        actor_id: str | None = None,
        actor_label: str = "system",
    ) -> None:
        await self.session.execute(
            insert(table_of(SmsCreditEntry)).values(
                kind=kind,
                segments=segments,
                notification_id=notification_id,
                reference=reference,
                actor_id=actor_id,
                actor_label=actor_label,
                at=at,
            )
        )

    async def hold_for(self, notification_id: uuid.UUID, segments: int) -> None:
        """Note on the notification how many credits it holds."""
        await self.session.execute(
            update(Notification)
            .where(Notification.id == notification_id)
            .values(sms_credits=segments)
        )

    async def rehold(self, notification_id: uuid.UUID, held: int, needed: int) -> bool:
        """Change a notification's hold from ``held`` to ``needed``, unless another run did."""
        result = await self.session.execute(
            update(Notification)
            .where(Notification.id == notification_id, Notification.sms_credits == held)
            .values(sms_credits=needed)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def take_held(self, notification_id: uuid.UUID) -> int:
        """Clear a notification's held credits and answer how many they were, once: the
        UPDATE is conditional on the amount read, so of two runs settling the same
        notification the second finds nothing to take."""
        held = (
            await self.session.execute(
                select(Notification.sms_credits).where(Notification.id == notification_id)
            )
        ).scalar_one_or_none()
        if not held:
            return 0
        result = await self.session.execute(
            update(Notification)
            .where(Notification.id == notification_id, Notification.sms_credits == held)
            .values(sms_credits=0)
        )
        return held if result.rowcount else 0  # type: ignore[attr-defined]

    async def entries_for(self, notification_id: uuid.UUID) -> list[tuple[str, int]]:
        rows = await self.session.execute(
            select(SmsCreditEntry.kind, SmsCreditEntry.segments)
            .where(SmsCreditEntry.notification_id == notification_id)
            .order_by(SmsCreditEntry.id)
        )
        return [(kind, segments) for kind, segments in rows.all()]
