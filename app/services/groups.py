"""Customer groups (seed 004): named sets of customers with an optional group discount."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from app.db.repositories.customers import CustomerRepository
from app.db.repositories.groups import GroupRepository
from app.domain.errors import ErrorCode, Rejected, UserError, reject
from app.domain.records import Actor, CustomerGroupRecord, CustomerRecord, Page
from app.domain.values import UNSET, Unset
from app.services.checks import required_text, two_decimals
from app.services.idempotency import Operation, replay_or_reserve, request_hash
from app.services.text import name_key
from app.services.unit_of_work import Result, Transactions, UnitOfWork

NAME_MAX = 100
BULK_MAX = 500
HUNDRED = Decimal(100)


@dataclass(frozen=True, slots=True)
class GroupChange:
    name: str | Unset = UNSET
    note: str | Unset | None = UNSET
    discount_percent: Decimal | Unset | None = UNSET


def _percent(value: Decimal | None) -> Decimal | None:
    """A group discount is 0 to 100 percent with at most two decimals."""
    return None if value is None else two_decimals(value, upper=HUNDRED, field="discountPercent")


def _snapshot(group: CustomerGroupRecord) -> dict[str, Any]:
    percent = group.discount_percent
    return {
        "name": group.name,
        "note": group.note,
        "discountPercent": str(percent) if percent is not None else None,
    }


class GroupService:
    def __init__(self, tx: Transactions, actor: Actor | None) -> None:
        self.tx = tx
        self.actor = actor

    def _name(self, raw: str) -> str:
        return required_text(raw, max_length=NAME_MAX, what="A group name", field="name")

    async def _unique(self, uow: UnitOfWork, name: str, own_id: uuid.UUID | None = None) -> None:
        holder = await uow.groups.id_by_name_key(name_key(name))
        if holder is not None and holder != own_id:
            raise reject(ErrorCode.DUPLICATE, "A group with this name exists.", "input", "name")

    async def _require(self, uow: UnitOfWork, group_id: uuid.UUID) -> CustomerGroupRecord:
        group = await uow.groups.get(group_id)
        if group is None:
            raise reject(ErrorCode.NOT_FOUND, "No such group.", "groupId")
        return group

    async def create(
        self,
        name: str,
        note: str | None,
        discount_percent: Decimal | None,
        idempotency_key: str | None = None,
    ) -> Result[CustomerGroupRecord]:
        """A new group; a retried key returns the first one instead of DUPLICATE."""
        digest = request_hash({"name": name, "note": note, "discountPercent": discount_percent})

        async def work(uow: UnitOfWork) -> CustomerGroupRecord:
            group_id = uuid.uuid4()
            if earlier := await replay_or_reserve(
                uow, Operation.CUSTOMER_GROUP_CREATE, idempotency_key, digest, str(group_id),
                "input", "idempotencyKey",
            ):  # fmt: skip
                return await self._require(uow, uuid.UUID(earlier))
            clean = self._name(name)
            percent = _percent(discount_percent)
            await self._unique(uow, clean)
            group = await uow.groups.insert(
                id=group_id,
                name=clean,
                name_key=name_key(clean),
                note=(note or "").strip() or None,
                discount_percent=percent,
            )
            await uow.audit("customer_group", group.id, "create", after=_snapshot(group))
            return group

        return await self.tx.run(self.actor, work)

    async def update(self, group_id: uuid.UUID, change: GroupChange) -> Result[CustomerGroupRecord]:
        """Rename, re-note or re-price a group; fields not given stay."""

        async def work(uow: UnitOfWork) -> CustomerGroupRecord:
            current = await self._require(uow, group_id)
            values: dict[str, Any] = {}
            if not isinstance(change.name, Unset):
                values["name"] = self._name(change.name)
                values["name_key"] = name_key(values["name"])
                await self._unique(uow, values["name"], own_id=group_id)
            if not isinstance(change.note, Unset):
                values["note"] = (change.note or "").strip() or None
            if not isinstance(change.discount_percent, Unset):
                values["discount_percent"] = _percent(change.discount_percent)
            if values:
                await uow.groups.update(group_id, values)
            updated = await self._require(uow, group_id)
            before, after = _snapshot(current), _snapshot(updated)
            if await uow.audit_changes("customer_group", group_id, "update", before, after):
                await self._members_changed(uow, group_id)
            return updated

        return await self.tx.run(self.actor, work)

    async def delete(self, group_id: uuid.UUID) -> Result[uuid.UUID]:
        """Delete a group; its members stay customers (seed 004)."""

        async def work(uow: UnitOfWork) -> uuid.UUID:
            group = await self._require(uow, group_id)
            await uow.audit("customer_group", group_id, "delete", before=_snapshot(group))
            await self._members_changed(uow, group_id)
            await uow.groups.delete(group_id)
            return group_id

        return await self.tx.run(self.actor, work)

    @staticmethod
    async def _members_changed(uow: UnitOfWork, group_id: uuid.UUID) -> None:
        """Members' local copies show the group (name, discount): their stores must re-read."""
        for customer_id in await uow.groups.all_member_ids(group_id):
            uow.customer_changed(customer_id)

    async def change_members(
        self, group_id: uuid.UUID, customer_ids: list[uuid.UUID], *, add: bool
    ) -> Result[CustomerGroupRecord]:
        """Add or remove customers in bulk; all or nothing, and repeats are harmless."""
        wanted = list(dict.fromkeys(customer_ids))

        async def work(uow: UnitOfWork) -> CustomerGroupRecord:
            await self._require(uow, group_id)
            if len(wanted) > BULK_MAX:
                raise reject(
                    ErrorCode.INVALID, f"At most {BULK_MAX} customers at a time.", "customerIds"
                )
            found = await uow.customers.get_many(wanted)
            # A merged customer is a pointer: its memberships moved to the survivor.
            found = {i: c for i, c in found.items() if c.merged_into_id is None}
            missing = [str(c) for c in wanted if c not in found]
            if missing:
                raise Rejected(
                    UserError(
                        ErrorCode.NOT_FOUND,
                        f"No such customers: {', '.join(missing)}.",
                        ("customerIds",),
                    )
                )
            members = await uow.groups.member_ids(group_id, wanted)
            changing = [c for c in wanted if (c in members) != add]
            if add:
                await uow.groups.add_members(group_id, changing)
            else:
                await uow.groups.remove_members(group_id, changing)
            action = "add_to_group" if add else "remove_from_group"
            for customer_id in changing:
                await uow.audit("customer", customer_id, action, after={"groupId": str(group_id)})
            return await self._require(uow, group_id)

        return await self.tx.run(self.actor, work)

    async def page(self, first: int, after: str | None) -> Page[CustomerGroupRecord]:
        async with self.tx.db.read() as session:
            return await GroupRepository(session).page(first, after)

    async def get(self, group_id: uuid.UUID) -> CustomerGroupRecord | None:
        async with self.tx.db.read() as session:
            return await GroupRepository(session).get(group_id)

    async def member_pages(
        self, group_ids: list[uuid.UUID], first: int, after: str | None
    ) -> dict[uuid.UUID, Page[CustomerRecord]]:
        """A page of members for each group, by name; two statements however many groups."""
        async with self.tx.db.read() as session:
            return await CustomerRepository(session).group_pages(group_ids, first, after)

    async def for_customers(
        self, customer_ids: list[uuid.UUID]
    ) -> dict[uuid.UUID, list[CustomerGroupRecord]]:
        async with self.tx.db.read() as session:
            return await GroupRepository(session).for_customers(customer_ids)
