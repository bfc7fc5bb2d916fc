from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import Store, Till
from app.domain.records import StoreRecord, TillRecord


def _store(row: Store) -> StoreRecord:
    return StoreRecord(id=row.id, code=row.code, name=row.name, is_head_office=row.is_head_office)


def _till(row: Till) -> TillRecord:
    return TillRecord(id=row.id, store_id=row.store_id, name=row.name)


class StoreRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, store_id: uuid.UUID) -> StoreRecord | None:
        row = await self.session.get(Store, store_id)
        return _store(row) if row else None

    async def get_by_code(self, code: str) -> StoreRecord | None:
        row = await self.session.scalar(select(Store).where(Store.code == code))
        return _store(row) if row else None

    async def head_office(self) -> StoreRecord:
        row = await self.session.scalar(
            select(Store).where(Store.is_head_office.is_(True)).order_by(Store.created_at).limit(1)
        )
        if row is None:  # the first migration creates it
            raise LookupError("no head office store: run `poscrm migrate`")
        return _store(row)

    async def list_all(self) -> list[StoreRecord]:
        rows = await self.session.scalars(select(Store).order_by(Store.code))
        return [_store(r) for r in rows]

    async def insert(self, code: str, name: str, *, is_head_office: bool = False) -> StoreRecord:
        row = Store(code=code, name=name, is_head_office=is_head_office)
        self.session.add(row)
        await self.session.flush()
        return _store(row)

    async def get_till(self, till_id: uuid.UUID) -> TillRecord | None:
        row = await self.session.get(Till, till_id)
        return _till(row) if row else None

    async def get_till_by_name(self, store_id: uuid.UUID, name: str) -> TillRecord | None:
        row = await self.session.scalar(
            select(Till).where(Till.store_id == store_id, Till.name == name)
        )
        return _till(row) if row else None

    async def insert_till(self, store_id: uuid.UUID, name: str) -> TillRecord:
        row = Till(store_id=store_id, name=name)
        self.session.add(row)
        await self.session.flush()
        return _till(row)
