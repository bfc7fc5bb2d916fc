"""Tills that work offline: a store's customer set, its change feed, offline-created customers.

A till keeps a local copy of the customers its store holds (its home customers and those
it downloaded). ``changes`` returns every customer of that set changed after the till's
cursor, once each, in its latest state, with deletions and merges as tombstones, so a
till that applies a page and keeps its end cursor ends up equal to the server.
"""

from __future__ import annotations

import enum
import uuid
from dataclasses import asdict, dataclass
from typing import Any

from app.db.repositories.customers import CustomerRepository
from app.db.repositories.paging import encode_cursor, number_cursor
from app.db.repositories.stores import StoreRepository
from app.db.repositories.sync import OfflineAnswer, SyncRepository
from app.domain.errors import ErrorCode, Rejected, UserError, reject
from app.domain.records import Actor, CustomerRecord, NotificationScenario
from app.services.customer_lookup import live_customer
from app.services.customers import CustomerCreate, CustomerService, lock_numbers
from app.services.notifications import queue_registration
from app.services.phones import InvalidPhone, normalize_phone
from app.services.store_scope import require_store, scoped_store
from app.services.text import email_key
from app.services.unit_of_work import Result, Transactions, UnitOfWork
from app.settings import Settings

MAX_POINTER_HOPS = 5


class ChangeKind(enum.StrEnum):
    CHANGED = "CHANGED"
    DELETED = "DELETED"
    MERGED = "MERGED"


class OfflineStatus(enum.StrEnum):
    CREATED = "CREATED"
    MATCHED = "MATCHED"
    CONFLICT = "CONFLICT"


@dataclass(frozen=True, slots=True)
class CustomerChange:
    cursor: str
    customer_id: uuid.UUID
    kind: ChangeKind
    customer: CustomerRecord | None  # None once deleted


@dataclass(frozen=True, slots=True)
class ChangePage:
    changes: list[CustomerChange]
    has_more: bool
    end_cursor: str | None


@dataclass(frozen=True, slots=True)
class OfflineResult:
    client_id: uuid.UUID
    status: OfflineStatus
    customer_id: uuid.UUID | None
    candidate_ids: tuple[uuid.UUID, ...] = ()
    reason: str | None = None


def _result(answer: OfflineAnswer) -> OfflineResult:
    # A conflict a manager has since resolved answers like a match: relink to this id.
    status = "MATCHED" if answer.status == "RESOLVED" else answer.status
    return OfflineResult(
        client_id=answer.client_id,
        status=OfflineStatus(status),
        customer_id=answer.customer_id,
        candidate_ids=answer.candidate_ids,
        reason=answer.reason,
    )


class StoreSyncService:
    def __init__(self, tx: Transactions, settings: Settings, actor: Actor | None) -> None:
        self.tx = tx
        self.settings = settings
        self.actor = actor
        self.customers = CustomerService(tx, settings, actor)

    def _store_for(self, store_id: uuid.UUID | None) -> uuid.UUID:
        """The store asked for, else the caller's; a bound caller reads and fills its own only."""
        store = scoped_store(self.actor, store_id, "storeId") or (
            self.actor.store_id if self.actor else None
        )
        if store is None:
            raise reject(ErrorCode.REQUIRED, "Say which store.", "storeId")
        return store

    # -- the feed -------------------------------------------------------------------

    async def changes(
        self, store_id: uuid.UUID | None, after: str | None, first: int
    ) -> ChangePage:
        since = number_cursor(after) if after is not None else 0
        store = self._store_for(store_id)
        async with self.tx.db.read() as session:
            sync = SyncRepository(session)
            rows = await sync.feed(store, since, first + 1)
            page = rows[:first]
            found = await CustomerRepository(session).get_many([r.customer_id for r in page])
        changes = [
            CustomerChange(
                cursor=encode_cursor(row.seq),
                customer_id=row.customer_id,
                kind=ChangeKind(row.kind),
                customer=found.get(row.customer_id),
            )
            for row in page
        ]
        return ChangePage(
            changes=changes,
            has_more=len(rows) > first,
            end_cursor=changes[-1].cursor if changes else after,
        )

    async def download(
        self, customer_id: uuid.UUID, store_id: uuid.UUID | None
    ) -> Result[CustomerRecord]:
        """Add a customer to a store's set (seed 001's Download); it then arrives in its feed."""

        async def work(uow: UnitOfWork) -> CustomerRecord:
            store = self._store_for(store_id)
            if await uow.stores.get(store) is None:
                raise reject(ErrorCode.NOT_FOUND, "No such store.", "storeId")
            customer = await live_customer(uow, customer_id)
            uow.hold_in_store(store, customer_id)
            return customer

        return await self.tx.run(self.actor, work)

    # -- customers a till created offline ----------------------------------------------

    async def sync_offline(
        self, store_id: uuid.UUID | None, drafts: list[tuple[uuid.UUID, CustomerCreate]]
    ) -> Result[list[OfflineResult]]:
        """Answer each offline-created customer: CREATED, MATCHED or CONFLICT; never a duplicate.

        Each record is its own transaction, so one bad record does not hold back the
        rest; the answers are stored under the till's id, so a resend gets the same ones.
        """
        try:
            store = self._store_for(store_id)
        except Rejected as rejected:
            return Result(errors=rejected.errors)
        # Once, before the records: an unknown store would otherwise fail each record's
        # insert on its foreign key, an internal error instead of the caller's.
        async with self.tx.db.read() as session:
            if await StoreRepository(session).get(store) is None:
                return Result(
                    errors=[UserError(ErrorCode.NOT_FOUND, "No such store.", ("storeId",))]
                )
        results = []
        for client_id, draft in drafts:

            async def work(
                uow: UnitOfWork, client_id: uuid.UUID = client_id, draft: CustomerCreate = draft
            ) -> OfflineResult:
                return await self._one(uow, store, client_id, draft)

            result = await self.tx.run(self.actor, work)
            if result.value is None:
                return Result(errors=result.errors)
            results.append(result.value)
        return Result(value=results)

    async def _one(
        self, uow: UnitOfWork, store: uuid.UUID, client_id: uuid.UUID, draft: CustomerCreate
    ) -> OfflineResult:
        earlier = await uow.sync.offline_answer(client_id)
        if earlier is not None:
            return _result(earlier)
        business = await uow.business.get()
        region = business.default_phone_region
        # Before matching: a till sending the same customer meanwhile waits, then matches.
        await lock_numbers(uow, draft, region)
        candidates = await self._candidates(uow, draft, region)
        record: dict[str, Any] = {
            "client_id": client_id,
            "store_id": store,
            "till_id": self.actor.till_id if self.actor else None,
            "payload": {k: v for k, v in asdict(draft).items() if v not in (None, (), False)},
            "candidate_ids": [str(c) for c in sorted(candidates, key=str)],
            "customer_id": None,
            "reason": None,
        }
        if len(candidates) == 1:
            (match,) = candidates
            record |= {"status": "MATCHED", "customer_id": match}
            uow.hold_in_store(store, match)
        elif candidates:
            record |= {
                "status": "CONFLICT",
                "reason": "Its phone, email and customer code belong to different customers.",
            }
        elif await uow.customers.get(client_id) is not None:
            record |= {"status": "CONFLICT", "reason": "This id is already in use."}
        else:
            try:
                created = await self.customers.insert_checked(
                    uow, draft, region, customer_id=client_id
                )
                record |= {"status": "CREATED", "customer_id": created.id}
                # Registered at a till that was offline: the same invitation as online.
                if NotificationScenario.REGISTRATION in business.notification_scenarios:
                    await queue_registration(uow, created, business)
                # Its home store may be another; the till that made it keeps it anyway.
                uow.hold_in_store(store, created.id)
            except Rejected as rejected:
                # Checks run before any write, so nothing of the record was saved.
                reasons = "; ".join(f"{e.code}: {e.message}" for e in rejected.errors)
                record |= {"status": "CONFLICT", "reason": reasons}
        record["payload"] = _json_ready(record["payload"])
        await uow.sync.record_offline(**record, created_at=uow.now)
        return OfflineResult(
            client_id=client_id,
            status=OfflineStatus(record["status"]),
            customer_id=record["customer_id"],
            candidate_ids=tuple(sorted(candidates, key=str)),
            reason=record["reason"],
        )

    @staticmethod
    async def _candidates(uow: UnitOfWork, draft: CustomerCreate, region: str) -> set[uuid.UUID]:
        """Existing customers sharing the draft's phone, email or customer code."""
        found: set[uuid.UUID] = set()
        numbers = [draft.phone, *(p.number for p in draft.phones)]
        phones = []
        for number in numbers:
            try:
                phones.append(normalize_phone(number, region))
            except InvalidPhone:
                continue
        if phones:
            found |= set((await uow.customers.owners_of_phones(phones)).values())
        if draft.email and draft.email.strip():
            found |= set(await uow.customers.ids_by_email_key(email_key(draft.email)))
        if draft.customer_code and draft.customer_code.strip():
            holder = await uow.customers.id_by_code(draft.customer_code.strip())
            if holder is not None:
                found.add(holder)
        # A merged customer stands for the one it was merged into.
        resolved = set()
        for customer_id in found:
            customer = await uow.customers.get(customer_id)
            # Merges flatten their pointers, so one hop is the norm; the bound guards
            # against a cycle ever looping here.
            for _hop in range(MAX_POINTER_HOPS):
                if customer is None or customer.merged_into_id is None:
                    break
                customer = await uow.customers.get(customer.merged_into_id)
            if customer is not None and customer.merged_into_id is None:
                resolved.add(customer.id)
        return resolved


def _json_ready(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_ready(v) for v in value]
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)


class OfflineConflicts:
    """A manager's side of offline conflicts: list them, and link each to a customer."""

    def __init__(self, tx: Transactions, actor: Actor | None) -> None:
        self.tx = tx
        self.actor = actor

    async def open(self, first: int, store_id: uuid.UUID | None = None) -> list[OfflineAnswer]:
        """Open conflicts of ``store_id`` (None: every store); a bound caller sees its own."""
        store = scoped_store(self.actor, store_id, "storeId")
        async with self.tx.db.read() as session:
            return await SyncRepository(session).open_conflicts(first, None, store)

    async def resolve(self, client_id: uuid.UUID, customer_id: uuid.UUID) -> Result[OfflineResult]:
        """Link the till's customer to an existing one; the till learns it on its next sync."""

        async def work(uow: UnitOfWork) -> OfflineResult:
            answer = await uow.sync.offline_answer(client_id)
            if answer is None or answer.status != "CONFLICT":
                raise reject(ErrorCode.NOT_FOUND, "No open conflict with this id.", "clientId")
            require_store(uow.actor, answer.store_id, "clientId")
            await live_customer(uow, customer_id)
            label = uow.actor_label
            await uow.sync.resolve_offline(client_id, customer_id, uow.now, label)
            uow.hold_in_store(answer.store_id, customer_id)
            await uow.audit(
                "customer",
                customer_id,
                "offline_link",
                after={"clientId": str(client_id), "storeId": str(answer.store_id)},
            )
            return OfflineResult(client_id, OfflineStatus.MATCHED, customer_id)

        return await self.tx.run(self.actor, work)
