from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import IdempotencyKey


@dataclass(frozen=True, slots=True)
class StoredResult:
    request_hash: str
    result_id: str


class IdempotencyRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def find(self, scope: str, operation: str, key: str) -> StoredResult | None:
        row = await self.session.scalar(
            select(IdempotencyKey).where(
                IdempotencyKey.scope == scope,
                IdempotencyKey.operation == operation,
                IdempotencyKey.key == key,
            )
        )
        return StoredResult(row.request_hash, row.result_id) if row else None

    async def insert(
        self, scope: str, operation: str, key: str, request_hash: str, result_id: str
    ) -> None:
        self.session.add(
            IdempotencyKey(
                scope=scope,
                operation=operation,
                key=key,
                request_hash=request_hash,
                result_id=result_id,
            )
        )
        await self.session.flush()
