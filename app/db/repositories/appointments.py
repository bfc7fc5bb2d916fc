from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import Appointment, StaffUser, Store
from app.db.repositories.paging import (
    encode_cursor,
    group_by,
    pages_by_parent,
    time_and_id_cursor,
)
from app.domain.appointments import AppointmentRecord, AppointmentStatus
from app.domain.records import Page, StaffUserRecord, StoreRecord

# The store and staff member come in the same statement: a diary shows both on every row.
_WITH_STORE_AND_STAFF = (
    select(Appointment, Store, StaffUser)
    .join(Store, Store.id == Appointment.store_id)
    .outerjoin(StaffUser, StaffUser.id == Appointment.staff_id)
    # Rows a conditional UPDATE just changed must be read as stored, not as first loaded.
    .execution_options(populate_existing=True)
)


def _record(row: Any) -> AppointmentRecord:
    appointment, store, staff = row
    return AppointmentRecord(
        id=appointment.id,
        customer_id=appointment.customer_id,
        store=StoreRecord(
            id=store.id, code=store.code, name=store.name, is_head_office=store.is_head_office
        ),
        staff=None
        if staff is None
        else StaffUserRecord(
            id=staff.id,
            username=staff.username,
            role_id=staff.role_id,
            store_id=staff.store_id,
            is_active=staff.is_active,
        ),
        service=appointment.service,
        starts_at=appointment.starts_at,
        duration_minutes=appointment.duration_minutes,
        status=AppointmentStatus(appointment.status),
        note=appointment.note,
        version=appointment.version,
        created_at=appointment.created_at,
        created_by=appointment.created_by,
        updated_at=appointment.updated_at,
    )


def _cursor(record: AppointmentRecord) -> str:
    return encode_cursor(record.starts_at.isoformat(), record.id.hex)


def _after(cursor: str) -> ColumnElement[bool]:
    """Rows after the cursor in ``ORDER BY starts_at, id`` (a store's diary)."""
    at, last_id = time_and_id_cursor(cursor)
    start = Appointment.starts_at
    return or_(start > at, and_(start == at, Appointment.id > last_id))


def _before(cursor: str) -> ColumnElement[bool]:
    """Rows after the cursor in ``ORDER BY starts_at DESC, id DESC`` (a customer's history)."""
    at, last_id = time_and_id_cursor(cursor)
    start = Appointment.starts_at
    return or_(start < at, and_(start == at, Appointment.id < last_id))


class AppointmentRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, appointment_id: uuid.UUID) -> AppointmentRecord | None:
        row = (
            await self.session.execute(
                _WITH_STORE_AND_STAFF.where(Appointment.id == appointment_id)
            )
        ).one_or_none()
        return _record(row) if row else None

    async def insert(self, **values: Any) -> AppointmentRecord:
        row = Appointment(**values)
        self.session.add(row)
        await self.session.flush()
        found = await self.get(row.id)
        assert found is not None
        return found

    async def change_booked(
        self, appointment_id: uuid.UUID, expected_version: int, values: dict[str, Any]
    ) -> bool:
        """Apply ``values`` only if still BOOKED at ``expected_version``; False: it was not.

        One conditional UPDATE on both databases: of two tills acting on the same
        booking, exactly one matches the row (no SELECT ... FOR UPDATE, a no-op on SQLite).
        """
        result = await self.session.execute(
            update(Appointment)
            .where(
                Appointment.id == appointment_id,
                Appointment.status == AppointmentStatus.BOOKED.value,
                Appointment.version == expected_version,
            )
            .values(**values, version=Appointment.version + 1)
            .execution_options(synchronize_session=False)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def lock_staff(self, staff_id: uuid.UUID) -> None:
        """Hold the staff member's row until commit (PostgreSQL), so two bookings for the
        same person queue and the second sees the first when it checks for a clash."""
        if self.session.get_bind().dialect.name == "sqlite":
            return  # the one writer already serialises write transactions
        # NO KEY UPDATE: a sale or login inserting rows that refer to this user need not
        # wait for the booking.
        await self.session.execute(
            select(StaffUser.id).where(StaffUser.id == staff_id).with_for_update(key_share=True)
        )

    async def booked_for_staff(
        self,
        staff_id: uuid.UUID,
        starting_from: datetime,
        starting_before: datetime,
        exclude_id: uuid.UUID | None = None,
    ) -> list[AppointmentRecord]:
        """The staff member's BOOKED appointments starting in [from, before), in any store."""
        conditions: list[ColumnElement[bool]] = [
            Appointment.staff_id == staff_id,
            Appointment.status == AppointmentStatus.BOOKED.value,
            Appointment.starts_at >= starting_from,
            Appointment.starts_at < starting_before,
        ]
        if exclude_id is not None:
            conditions.append(Appointment.id != exclude_id)
        rows = await self.session.execute(
            _WITH_STORE_AND_STAFF.where(*conditions).order_by(Appointment.starts_at, Appointment.id)
        )
        return [_record(r) for r in rows]

    async def store_page(
        self,
        store_id: uuid.UUID,
        starts_from: datetime | None,
        starts_before: datetime | None,
        status: AppointmentStatus | None,
        first: int,
        after: str | None,
    ) -> Page[AppointmentRecord]:
        """A store's diary: appointments in start order, optionally in a window and status."""
        conditions: list[ColumnElement[bool]] = [Appointment.store_id == store_id]
        if starts_from is not None:
            conditions.append(Appointment.starts_at >= starts_from)
        if starts_before is not None:
            conditions.append(Appointment.starts_at < starts_before)
        if status is not None:
            conditions.append(Appointment.status == status.value)
        total = await self.session.scalar(
            select(func.count()).select_from(Appointment).where(*conditions)
        )
        stmt = _WITH_STORE_AND_STAFF.where(*conditions)
        if after is not None:
            stmt = stmt.where(_after(after))
        rows = [
            _record(r)
            for r in await self.session.execute(
                stmt.order_by(Appointment.starts_at, Appointment.id).limit(first + 1)
            )
        ]
        return Page(
            items=[(_cursor(r), r) for r in rows[:first]],
            has_next=len(rows) > first,
            total=total or 0,
        )

    async def customer_pages(
        self, customer_ids: list[uuid.UUID], first: int, after: str | None
    ) -> dict[uuid.UUID, Page[AppointmentRecord]]:
        """Newest-first pages for many customers in two statements (no N+1 in lists)."""
        conditions: list[ColumnElement[bool]] = [Appointment.customer_id.in_(customer_ids)]
        totals = dict(
            (
                await self.session.execute(
                    select(Appointment.customer_id, func.count())
                    .where(*conditions)
                    .group_by(Appointment.customer_id)
                )
            ).all()
        )
        if after is not None:
            conditions.append(_before(after))
        newest_first = (Appointment.starts_at.desc(), Appointment.id.desc())
        rank = (
            func.row_number()
            .over(partition_by=Appointment.customer_id, order_by=newest_first)
            .label("rank")
        )
        ranked = select(Appointment.id, rank).where(*conditions).subquery()
        rows = await self.session.execute(
            _WITH_STORE_AND_STAFF.join(ranked, ranked.c.id == Appointment.id)
            .where(ranked.c.rank <= first + 1)
            .order_by(Appointment.customer_id, *newest_first)
        )
        booked = group_by(map(_record, rows), lambda record: record.customer_id)
        return pages_by_parent(customer_ids, booked, first, totals, _cursor)
