from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.base import conflict_insert
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

    async def reserve(
        self, scope: str, operation: str, key: str, request_hash: str, result_id: str
    ) -> bool:
        """Insert the key unless it is there; whether this call inserted it.

        One statement for a first call. On PostgreSQL an insert racing another
        transaction's uncommitted one waits for it to end, then inserts (it rolled back)
        or finds it (it committed).
        """
        inserted = await self.session.scalar(
            conflict_insert(self.session.get_bind().dialect.name)(IdempotencyKey)
            .values(
                scope=scope,
                operation=operation,
                key=key,
                request_hash=request_hash,
                result_id=result_id,
            )
            .on_conflict_do_nothing(index_elements=["scope", "operation", "key"])
            .returning(IdempotencyKey.id)
        )
        return inserted is not None
