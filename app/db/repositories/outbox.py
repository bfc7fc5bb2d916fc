from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import OutboxMessage


class OutboxRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def insert(self, job_name: str, payload: dict[str, Any]) -> uuid.UUID:
        row = OutboxMessage(job_name=job_name, payload=payload)
        self.session.add(row)
        await self.session.flush()
        return row.id

    async def get(self, message_id: uuid.UUID) -> tuple[str, dict[str, Any]] | None:
        row = await self.session.get(OutboxMessage, message_id)
        return (row.job_name, row.payload) if row else None

    async def get_many(self, message_ids: list[uuid.UUID]) -> dict[uuid.UUID, dict[str, Any]]:
        """The payloads of the messages that exist, by id."""
        rows = await self.session.execute(
            select(OutboxMessage.id, OutboxMessage.payload).where(OutboxMessage.id.in_(message_ids))
        )
        return {row[0]: row[1] for row in rows}

    async def claim_many(self, message_ids: list[uuid.UUID], now: datetime) -> None:
        """``claim`` for many messages in one statement."""
        await self.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(message_ids), OutboxMessage.processed_at.is_(None))
            .values(processed_at=now)
        )

    async def mark_enqueued(self, message_ids: list[uuid.UUID], now: datetime) -> None:
        await self.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(message_ids), OutboxMessage.enqueued_at.is_(None))
            .values(enqueued_at=now, enqueue_attempts=OutboxMessage.enqueue_attempts + 1)
        )

    async def count_failed_attempt(self, message_ids: list[uuid.UUID]) -> None:
        await self.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(message_ids))
            .values(enqueue_attempts=OutboxMessage.enqueue_attempts + 1)
        )

    async def pending(self, created_before: datetime, limit: int) -> list[tuple[uuid.UUID, str]]:
        """Rows that never reached Redis (the post-commit enqueue failed or the process died)."""
        rows = await self.session.execute(
            select(OutboxMessage.id, OutboxMessage.job_name)
            .where(
                OutboxMessage.enqueued_at.is_(None),
                OutboxMessage.created_at < created_before,
            )
            .order_by(OutboxMessage.created_at)
            .limit(limit)
        )
        return [(row[0], row[1]) for row in rows]

    async def claim(self, message_id: uuid.UUID, now: datetime) -> bool:
        """Mark a message processed; False if another run already did (at-least-once delivery)."""
        result = await self.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == message_id, OutboxMessage.processed_at.is_(None))
            .values(processed_at=now)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]
