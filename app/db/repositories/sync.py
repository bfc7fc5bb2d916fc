"""Store sync: which customers each store holds, numbered changes, offline-created customers."""

from __future__ import annotations

import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    String,
    Uuid,
    and_,
    column,
    literal,
    or_,
    select,
    update,
    values,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.base import conflict_insert
from app.db.models import Customer, OfflineCustomer, StoreCustomer, StoreSyncCounter
from app.db.types import UTCDateTime


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


# Customer -> the stores holding it -> whether it is in that store's feed yet (False: only
# its home store, not yet numbered there).
Holders = dict[uuid.UUID, dict[uuid.UUID, bool]]

# Feed rows numbered in one statement with their counters (PostgreSQL): 4 parameters
# each, well under its 32,767. More (an import) take the counters, then one executemany.
NUMBER_ROWS = 4000


def _feed_upsert(stmt: Any) -> Any:
    """A (store, customer) already in the feed moves to its new number and kind."""
    return stmt.on_conflict_do_update(
        index_elements=[StoreCustomer.store_id, StoreCustomer.customer_id],
        set_={
            "seq": stmt.excluded.seq,
            "kind": stmt.excluded.kind,
            "added_at": stmt.excluded.added_at,
        },
    )


class SyncRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @property
    def _postgresql(self) -> bool:
        return self.session.get_bind().dialect.name == "postgresql"

    async def lock_customers(self, customer_ids: list[uuid.UUID], *, adding: bool) -> None:
        """Lock the customers whose feed rows this transaction writes, in id order, before
        their holders are read (PostgreSQL; SQLite's one writer serialises anyway).

        A change takes FOR SHARE: changes of one customer do not wait for each other, but
        do wait for a transaction that adds a holder (``adding``: a download, a match,
        FOR NO KEY UPDATE) or moves the home store (an UPDATE of the row), and those wait
        for the change. So whichever commits second reads the holders after the first
        committed, and a store that starts holding a customer never misses a change.
        """
        if not self._postgresql or not customer_ids:
            return
        await self.session.execute(
            select(Customer.id)
            .where(Customer.id.in_(customer_ids))
            .order_by(Customer.id)
            .with_for_update(read=not adding, key_share=adding)
        )

    async def holders(
        self, customer_ids: list[uuid.UUID]
    ) -> dict[uuid.UUID, dict[uuid.UUID, bool]]:
        """The stores holding each customer: those that hold it already and its home store,
        with whether the store has the customer in its feed yet (True) or is only its home."""
        listed = select(
            StoreCustomer.customer_id, StoreCustomer.store_id, literal(1).label("listed")
        ).where(StoreCustomer.customer_id.in_(customer_ids))
        homes = select(Customer.id, Customer.home_store_id, literal(0)).where(
            Customer.id.in_(customer_ids), Customer.home_store_id.is_not(None)
        )
        found: dict[uuid.UUID, dict[uuid.UUID, bool]] = defaultdict(dict)
        for customer_id, store_id, in_feed in await self.session.execute(listed.union_all(homes)):
            stores = found[customer_id]
            stores[store_id] = stores.get(store_id, False) or bool(in_feed)
        return found

    async def number(self, entries: dict[tuple[uuid.UUID, uuid.UUID], str], now: datetime) -> None:
        """Give each (store, customer) -> kind a new number: it moves to the end of that feed.

        One counter row per store, all taken in one statement in store order (so two
        commits numbering the same stores never deadlock), locked until commit: a store's
        later number is never visible before an earlier one. Within a store, customers
        are numbered in id order.
        """
        if not entries:
            return
        ordered = sorted(entries.items(), key=lambda e: (str(e[0][0]), str(e[0][1])))
        counts = Counter(store_id for (store_id, _), _ in ordered)
        insert: Any = conflict_insert(self.session.get_bind().dialect.name)
        taken = insert(StoreSyncCounter).values(
            [{"store_id": s, "value": n} for s, n in counts.items()]  # in store order
        )
        counter = taken.on_conflict_do_update(
            index_elements=[StoreSyncCounter.store_id],
            set_={"value": StoreSyncCounter.value + taken.excluded.value},
        ).returning(StoreSyncCounter.store_id, StoreSyncCounter.value)
        # Per entry, how far below its store's new last number it goes.
        rows, seen = [], Counter[uuid.UUID]()
        for (store_id, customer_id), kind in ordered:
            seen[store_id] += 1
            rows.append((store_id, customer_id, kind, counts[store_id] - seen[store_id]))
        if self._postgresql and len(rows) <= NUMBER_ROWS:
            # One round trip: the counters and the feed rows in one statement.
            numbered = counter.cte("numbered")
            given = values(
                column("store_id", Uuid()),
                column("customer_id", Uuid()),
                column("kind", String()),
                column("back", BigInteger()),
                name="given",
            ).data(rows)
            pick = select(
                given.c.store_id,
                given.c.customer_id,
                numbered.c.value - given.c.back,
                given.c.kind,
                literal(now, UTCDateTime()),
            ).join_from(given, numbered, numbered.c.store_id == given.c.store_id)
            together = postgresql.insert(StoreCustomer).from_select(
                ["store_id", "customer_id", "seq", "kind", "added_at"], pick
            )
            await self.session.execute(_feed_upsert(together))
            return
        last: dict[uuid.UUID, int] = dict((await self.session.execute(counter)).all())
        await self.session.execute(
            _feed_upsert(insert(StoreCustomer)),
            [
                {
                    "store_id": store_id,
                    "customer_id": customer_id,
                    "kind": kind,
                    "seq": last[store_id] - back,
                    "added_at": now,
                }
                for store_id, customer_id, kind, back in rows
            ],
        )

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
