from __future__ import annotations

import uuid
from collections import defaultdict
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import CustomerGroup, CustomerGroupMember
from app.db.repositories.paging import after_key_and_id, encode_cursor
from app.domain.records import CustomerGroupRecord, Page

_members = (
    select(func.count())
    .where(CustomerGroupMember.group_id == CustomerGroup.id)
    .correlate(CustomerGroup)
    .scalar_subquery()
)


def _record(row: CustomerGroup, member_count: int = 0) -> CustomerGroupRecord:
    return CustomerGroupRecord(
        id=row.id,
        name=row.name,
        note=row.note,
        discount_percent=row.discount_percent,
        member_count=member_count,
    )


class GroupRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, group_id: uuid.UUID) -> CustomerGroupRecord | None:
        found = (
            await self.session.execute(
                select(CustomerGroup, _members).where(CustomerGroup.id == group_id)
            )
        ).one_or_none()
        return _record(found[0], found[1]) if found else None

    async def id_by_name_key(self, name_key: str) -> uuid.UUID | None:
        found: uuid.UUID | None = await self.session.scalar(
            select(CustomerGroup.id).where(CustomerGroup.name_key == name_key)
        )
        return found

    async def insert(self, **values: Any) -> CustomerGroupRecord:
        row = CustomerGroup(**values)
        self.session.add(row)
        await self.session.flush()
        return _record(row)

    async def update(self, group_id: uuid.UUID, values: dict[str, Any]) -> None:
        await self.session.execute(
            update(CustomerGroup).where(CustomerGroup.id == group_id).values(**values)
        )

    async def delete(self, group_id: uuid.UUID) -> None:
        await self.session.execute(
            delete(CustomerGroupMember).where(CustomerGroupMember.group_id == group_id)
        )
        await self.session.execute(delete(CustomerGroup).where(CustomerGroup.id == group_id))

    async def page(self, first: int, after: str | None) -> Page[CustomerGroupRecord]:
        """Groups by name; each with its member count."""
        total = await self.session.scalar(select(func.count()).select_from(CustomerGroup))
        stmt = select(CustomerGroup, _members)
        if after is not None:
            stmt = stmt.where(after_key_and_id(CustomerGroup.name_key, CustomerGroup.id, after))
        rows = (
            await self.session.execute(
                stmt.order_by(CustomerGroup.name_key, CustomerGroup.id).limit(first + 1)
            )
        ).all()
        return Page(
            items=[(encode_cursor(g.name_key, g.id.hex), _record(g, n)) for g, n in rows[:first]],
            has_next=len(rows) > first,
            total=total or 0,
        )

    async def all_member_ids(self, group_id: uuid.UUID) -> list[uuid.UUID]:
        rows = await self.session.scalars(
            select(CustomerGroupMember.customer_id).where(CustomerGroupMember.group_id == group_id)
        )
        return list(rows)

    async def member_ids(
        self, group_id: uuid.UUID, customer_ids: list[uuid.UUID]
    ) -> set[uuid.UUID]:
        rows = await self.session.scalars(
            select(CustomerGroupMember.customer_id).where(
                CustomerGroupMember.group_id == group_id,
                CustomerGroupMember.customer_id.in_(customer_ids),
            )
        )
        return set(rows)

    async def add_members(self, group_id: uuid.UUID, customer_ids: list[uuid.UUID]) -> None:
        if customer_ids:
            await self.session.execute(
                insert(CustomerGroupMember),
                [{"group_id": group_id, "customer_id": c} for c in customer_ids],
            )

    async def remove_members(self, group_id: uuid.UUID, customer_ids: list[uuid.UUID]) -> None:
        await self.session.execute(
            delete(CustomerGroupMember).where(
                CustomerGroupMember.group_id == group_id,
                CustomerGroupMember.customer_id.in_(customer_ids),
            )
        )

    async def for_customers(
        self, customer_ids: list[uuid.UUID]
    ) -> dict[uuid.UUID, list[CustomerGroupRecord]]:
        rows = await self.session.execute(
            select(CustomerGroupMember.customer_id, CustomerGroup)
            .join(CustomerGroup, CustomerGroup.id == CustomerGroupMember.group_id)
            .where(CustomerGroupMember.customer_id.in_(customer_ids))
            .order_by(CustomerGroup.name_key)
        )
        found: dict[uuid.UUID, list[CustomerGroupRecord]] = defaultdict(list)
        for customer_id, group in rows:
            found[customer_id].append(_record(group))
        return found
