"""Store sync: which customers each store holds, numbered changes, offline-created customers."""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, insert, or_, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.base import table_of
from app.db.bulk import insert_rows
from app.db.models import Customer, OfflineCustomer, StoreCustomer, SyncCounter


@dataclass(frozen=True, slots=True)
class FeedRow:
    seq: int
    customer_id: uuid.UUID
    kind: str


@dataclass(frozen=True, slots=True)
class OfflineAnswer:
    client_id: uuid.UUID
    status: str
    customer_id: uuid.UUID | None
    candidate_ids: tuple[uuid.UUID, ...]
    reason: str | None
    store_id: uuid.UUID
    payload: dict[str, Any]
    created_at: datetime


def _answer(row: OfflineCustomer) -> OfflineAnswer:
    return OfflineAnswer(
        client_id=row.client_id,
        status=row.status,
        customer_id=row.customer_id,
        candidate_ids=tuple(uuid.UUID(c) for c in row.candidate_ids),
        reason=row.reason,
        store_id=row.store_id,
        payload=row.payload,
        created_at=row.created_at,
    )


class SyncRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def take_numbers(self, count: int) -> range:
        """The next ``count`` change numbers.

        The UPDATE locks the counter row until commit (PostgreSQL) or runs under the one
        writer (SQLite): a later number is never visible before an earlier one.
        """
        last = await self.session.scalar(
            update(SyncCounter)
            .where(SyncCounter.id == 1)
            .values(value=SyncCounter.value + count)
            .returning(SyncCounter.value)
        )
        if last is None:  # migration 0005 creates the row
            raise LookupError("sync_counter is empty: run `poscrm migrate`")
        return range(last - count + 1, last + 1)

    async def lock_counter(self) -> None:
        """Take the counter's row lock now (PostgreSQL); SQLite's one writer is the lock."""
        if self.session.get_bind().dialect.name != "sqlite":
            await self.session.execute(
                select(SyncCounter.value).where(SyncCounter.id == 1).with_for_update()
            )

    async def holders(self, customer_ids: list[uuid.UUID]) -> dict[uuid.UUID, set[uuid.UUID]]:
        """The stores holding each customer: those that hold it already, and its home store."""
        found: dict[uuid.UUID, set[uuid.UUID]] = defaultdict(set)
        rows = await self.session.execute(
            select(StoreCustomer.customer_id, StoreCustomer.store_id).where(
                StoreCustomer.customer_id.in_(customer_ids)
            )
        )
        homes = await self.session.execute(
            select(Customer.id, Customer.home_store_id).where(
                Customer.id.in_(customer_ids), Customer.home_store_id.is_not(None)
            )
        )
        for customer_id, store_id in [*rows, *homes]:
            found[customer_id].add(store_id)
        return found

    async def put(self, entries: list[tuple[uuid.UUID, uuid.UUID, str]], now: datetime) -> None:
        """Give each (store, customer, kind) a new number: it moves to the end of that feed."""
        if not entries:
            return
        entries = sorted(entries, key=lambda e: (str(e[0]), str(e[1])))
        numbers = await self.take_numbers(len(entries))
        keys = [(store_id, customer_id) for store_id, customer_id, _ in entries]
        await self.session.execute(
            delete(StoreCustomer).where(
                tuple_(StoreCustomer.store_id, StoreCustomer.customer_id).in_(keys)
            )
        )
        await self.session.execute(
            insert(StoreCustomer),
            [
                {
                    "store_id": store_id,
                    "customer_id": customer_id,
                    "kind": kind,
                    "seq": seq,
                    "added_at": now,
                }
                for (store_id, customer_id, kind), seq in zip(entries, numbers, strict=True)
            ],
        )

    async def put_new(self, entries: list[tuple[uuid.UUID, uuid.UUID, str]], now: datetime) -> None:
        """``put`` for customers this transaction created: no store can hold them yet, so
        there is no earlier entry to remove (an import numbers 100k of them)."""
        if not entries:
            return
        entries = sorted(entries, key=lambda e: (str(e[0]), str(e[1])))
        numbers = await self.take_numbers(len(entries))
        await insert_rows(
            self.session,
            table_of(StoreCustomer),
            [
                {"store_id": store_id, "customer_id": customer_id, "kind": kind, "seq": seq}
                for (store_id, customer_id, kind), seq in zip(entries, numbers, strict=True)
            ],
            {"added_at": now},
        )

    async def holds(self, store_id: uuid.UUID, customer_id: uuid.UUID) -> bool:
        found = await self.session.scalar(
            select(StoreCustomer.seq).where(
                StoreCustomer.store_id == store_id, StoreCustomer.customer_id == customer_id
            )
        )
        return found is not None

    async def feed(self, store_id: uuid.UUID, after: int, first: int) -> list[FeedRow]:
        rows = await self.session.execute(
            select(StoreCustomer.seq, StoreCustomer.customer_id, StoreCustomer.kind)
            .where(StoreCustomer.store_id == store_id, StoreCustomer.seq > after)
            .order_by(StoreCustomer.seq)
            .limit(first)
        )
        return [FeedRow(seq, customer_id, kind) for seq, customer_id, kind in rows]

    async def has_more(self, store_id: uuid.UUID, after: int) -> bool:
        found = await self.session.scalar(
            select(StoreCustomer.seq)
            .where(StoreCustomer.store_id == store_id, StoreCustomer.seq > after)
            .limit(1)
        )
        return found is not None

    # -- customers created offline ------------------------------------------------------

    async def offline_answer(self, client_id: uuid.UUID) -> OfflineAnswer | None:
        row = await self.session.get(OfflineCustomer, client_id, populate_existing=True)
        return _answer(row) if row else None

    async def record_offline(self, **values: Any) -> None:
        self.session.add(OfflineCustomer(**values))
        await self.session.flush()

    async def resolve_offline(
        self, client_id: uuid.UUID, customer_id: uuid.UUID, at: datetime, by: str
    ) -> bool:
        result = await self.session.execute(
            update(OfflineCustomer)
            .where(OfflineCustomer.client_id == client_id, OfflineCustomer.status == "CONFLICT")
            .values(status="RESOLVED", customer_id=customer_id, resolved_at=at, resolved_by=by)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def open_conflicts(
        self, first: int, after: tuple[datetime, uuid.UUID] | None, store_id: uuid.UUID | None
    ) -> list[OfflineAnswer]:
        """Open conflicts in arrival order, of one store or (``store_id`` None) of all."""
        stmt = select(OfflineCustomer).where(OfflineCustomer.status == "CONFLICT")
        if store_id is not None:
            stmt = stmt.where(OfflineCustomer.store_id == store_id)
        if after is not None:
            at, client_id = after
            stmt = stmt.where(
                or_(
                    OfflineCustomer.created_at > at,
                    and_(OfflineCustomer.created_at == at, OfflineCustomer.client_id > client_id),
                )
            )
        rows = await self.session.scalars(
            stmt.order_by(OfflineCustomer.created_at, OfflineCustomer.client_id).limit(first)
        )
        return [_answer(r) for r in rows]
