"""Appointments (seed 004): booked, rescheduled, cancelled or completed; the customer's
appointment history sits next to their sales history on the customer screen.

A booking changes hands between devices (the desk books, the stylist's till completes),
so every status change is one conditional UPDATE on ``status = 'BOOKED' AND version``:
two devices cannot both act on one booking, on SQLite or PostgreSQL.
"""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from app.db.repositories.appointments import AppointmentRepository
from app.db.repositories.stores import StoreRepository
from app.domain.appointments import AppointmentRecord, AppointmentStatus
from app.domain.errors import ErrorCode, reject
from app.domain.records import Actor, Page, StoreRecord
from app.domain.values import UNSET, Unset
from app.services.checks import optional_text, required_text, utc_moment
from app.services.customer_lookup import live_customer
from app.services.idempotency import Operation, earlier_result, remember, request_hash
from app.services.store_scope import require_store, scoped_store
from app.services.unit_of_work import Result, Transactions, UnitOfWork

SERVICE_MAX = 200
NOTE_MAX = 1000
REASON_MAX = 500
DURATION_MIN = 5
DURATION_MAX = 720
DURATION_DEFAULT = 30
# A walk-in is booked as it starts and a till's clock can run a little behind; a start
# further back is a typo or a visit that belongs in the sales history, not the diary.
PAST_GRACE = timedelta(hours=1)
# Far enough for next year's wedding booking; near enough to catch 2205 for 2025.
BOOKING_HORIZON = timedelta(days=2 * 366)


@dataclass(frozen=True, slots=True)
class AppointmentCreate:
    customer_id: uuid.UUID
    service: str
    starts_at: datetime
    duration_minutes: int = DURATION_DEFAULT
    store_id: uuid.UUID | None = None
    staff_id: uuid.UUID | None = None
    note: str | None = None
    idempotency_key: str | None = None


@dataclass(frozen=True, slots=True)
class AppointmentReschedule:
    expected_version: int
    starts_at: datetime
    duration_minutes: int | Unset = UNSET
    # None takes the booking off any staff member; UNSET keeps the one it has.
    staff_id: uuid.UUID | Unset | None = UNSET


@dataclass(frozen=True, slots=True)
class AppointmentWindow:
    """A store's diary between two moments (either open), optionally of one status."""

    store_id: uuid.UUID | None = None
    starts_from: datetime | None = None
    starts_before: datetime | None = None
    status: AppointmentStatus | None = None


def _checked_start(starts_at: datetime, now: datetime) -> datetime:
    if starts_at.tzinfo is None or starts_at.utcoffset() is None:
        # A till's local time read as UTC would move the booking by hours.
        raise reject(
            ErrorCode.INVALID, "Give the start with its time zone offset.", "input", "startsAt"
        )
    try:
        in_utc = starts_at.astimezone(UTC)
    except OverflowError:  # e.g. 9999-12-31T23:00-05:00 is past year 9999 in UTC
        in_utc = None
    if in_utc is None or in_utc > now + BOOKING_HORIZON:
        raise reject(ErrorCode.INVALID, "The start must be within two years.", "input", "startsAt")
    if in_utc < now - PAST_GRACE:
        raise reject(ErrorCode.INVALID, "The start is in the past.", "input", "startsAt")
    return in_utc


def _checked_duration(minutes: int) -> int:
    if not DURATION_MIN <= minutes <= DURATION_MAX:
        raise reject(
            ErrorCode.INVALID,
            f"A duration is {DURATION_MIN} to {DURATION_MAX} minutes.",
            "input",
            "durationMinutes",
        )
    return minutes


def _snapshot(a: AppointmentRecord) -> dict[str, Any]:
    return {
        "appointmentId": str(a.id),
        "service": a.service,
        "startsAt": a.starts_at.isoformat(),
        "durationMinutes": a.duration_minutes,
        "storeId": str(a.store.id),
        "staffId": str(a.staff.id) if a.staff else None,
        "status": a.status.value,
    }


class AppointmentService:
    """Bookings for customers at a store, with or without a named staff member."""

    def __init__(self, tx: Transactions, actor: Actor | None) -> None:
        self.tx = tx
        self.actor = actor

    @staticmethod
    async def _require(uow: UnitOfWork, appointment_id: uuid.UUID) -> AppointmentRecord:
        """The appointment, changed only at its own store by a caller bound to a store."""
        found = await uow.appointments.get(appointment_id)
        if found is None:
            raise reject(ErrorCode.NOT_FOUND, "No such appointment.", "id")
        require_store(uow.actor, found.store.id, "id")
        return found

    @staticmethod
    def _require_booked(appointment: AppointmentRecord) -> None:
        if appointment.status is not AppointmentStatus.BOOKED:
            raise reject(
                ErrorCode.APPOINTMENT_CLOSED,
                f"This appointment is {appointment.status.value.lower()}; book a new one.",
                "id",
            )

    async def _store(self, uow: UnitOfWork, store_id: uuid.UUID | None) -> StoreRecord:
        """The given store, else the caller's (a till's or a staff user's), else head office;
        a caller bound to a store books only there."""
        store_id = scoped_store(self.actor, store_id, "input", "storeId") or (
            self.actor.store_id if self.actor else None
        )
        if store_id is None:
            return await uow.stores.head_office()
        store = await uow.stores.get(store_id)
        if store is None:
            raise reject(ErrorCode.NOT_FOUND, "No such store.", "input", "storeId")
        return store

    @staticmethod
    async def _check_staff_free(
        uow: UnitOfWork,
        staff_id: uuid.UUID | None,
        starts_at: datetime,
        duration_minutes: int,
        exclude_id: uuid.UUID | None = None,
    ) -> None:
        """A named staff member exists, has an active account and no other booking then.

        One person cannot do two cuts at once, in this store or another; a booking with
        no staff member named is the shop's to fit in, so it never clashes.
        """
        if staff_id is None:
            return
        staff = await uow.staff.get_user(staff_id)
        if staff is None:
            raise reject(ErrorCode.NOT_FOUND, "No such staff member.", "input", "staffId")
        if not staff.is_active:
            raise reject(
                ErrorCode.INVALID, "This staff member's account is disabled.", "input", "staffId"
            )
        await uow.appointments.lock_staff(staff_id)
        ends_at = starts_at + timedelta(minutes=duration_minutes)
        nearby = await uow.appointments.booked_for_staff(
            staff_id, starts_at - timedelta(minutes=DURATION_MAX), ends_at, exclude_id
        )
        clash = next((a for a in nearby if a.overlaps(starts_at, ends_at)), None)
        if clash is not None:
            raise reject(
                ErrorCode.INVALID,
                f"{staff.username} is booked from {clash.starts_at.isoformat()} "
                f"to {clash.ends_at.isoformat()}.",
                "input",
                "startsAt",
            )

    # -- commands ------------------------------------------------------------------------

    async def create(self, cmd: AppointmentCreate) -> Result[AppointmentRecord]:
        """Book the customer; a retry with the same idempotency key returns the first booking."""
        digest = request_hash({k: v for k, v in asdict(cmd).items() if k != "idempotency_key"})
        key = cmd.idempotency_key

        async def work(uow: UnitOfWork) -> AppointmentRecord:
            # Locks first (PostgreSQL): a retry racing the first call with the same key
            # waits here and then replays it, rather than clash with its own booking; a
            # merge of this customer commits wholly before or after this booking.
            await uow.customers.lock([cmd.customer_id])
            if cmd.staff_id is not None:
                await uow.appointments.lock_staff(cmd.staff_id)
            earlier = await earlier_result(
                uow, Operation.APPOINTMENT_CREATE, key, digest, "input", "idempotencyKey"
            )
            if earlier is not None:
                return await self._require(uow, uuid.UUID(earlier))
            # INACTIVE customers may book: inactive is the shop's alternative to deleting
            # (seed 004) and keeps the record usable; a customer who phones to come back
            # is not turned away at the desk. Money is where CUSTOMER_INACTIVE is asked
            # (saleAssignCustomer). A MERGED pointer is refused: book the survivor.
            await live_customer(uow, cmd.customer_id)
            service = required_text(
                cmd.service, max_length=SERVICE_MAX, what="A service", field="service"
            )
            starts_at = _checked_start(cmd.starts_at, uow.now)
            duration = _checked_duration(cmd.duration_minutes)
            note = optional_text(cmd.note, NOTE_MAX, "A note", "input", "note")
            store = await self._store(uow, cmd.store_id)
            await self._check_staff_free(uow, cmd.staff_id, starts_at, duration)
            created = await uow.appointments.insert(
                customer_id=cmd.customer_id,
                store_id=store.id,
                staff_id=cmd.staff_id,
                service=service,
                starts_at=starts_at,
                duration_minutes=duration,
                status=AppointmentStatus.BOOKED.value,
                note=note,
                version=1,
                created_at=uow.now,
                created_by=uow.actor_label,
            )
            await remember(uow, Operation.APPOINTMENT_CREATE, key, digest, str(created.id))
            await uow.audit(
                "customer", cmd.customer_id, "appointment_create", after=_snapshot(created)
            )
            return created

        return await self.tx.run(self.actor, work)

    async def reschedule(
        self, appointment_id: uuid.UUID, cmd: AppointmentReschedule
    ) -> Result[AppointmentRecord]:
        """Move a BOOKED appointment (and optionally its length or staff member)."""

        async def work(uow: UnitOfWork) -> AppointmentRecord:
            current = await self._require(uow, appointment_id)
            self._require_booked(current)
            if current.version != cmd.expected_version:
                raise self._stale(current, "input", "expectedVersion")
            starts_at = _checked_start(cmd.starts_at, uow.now)
            duration = (
                current.duration_minutes
                if isinstance(cmd.duration_minutes, Unset)
                else _checked_duration(cmd.duration_minutes)
            )
            staff_id = (
                (current.staff.id if current.staff else None)
                if isinstance(cmd.staff_id, Unset)
                else cmd.staff_id
            )
            await self._check_staff_free(uow, staff_id, starts_at, duration, appointment_id)
            values = {
                "starts_at": starts_at,
                "duration_minutes": duration,
                "staff_id": staff_id,
                "updated_at": uow.now,
            }
            return await self._change(
                uow,
                current,
                cmd.expected_version,
                values,
                "reschedule",
                ("input", "expectedVersion"),
            )

        return await self.tx.run(self.actor, work)

    async def cancel(
        self, appointment_id: uuid.UUID, reason: str | None, expected_version: int | None = None
    ) -> Result[AppointmentRecord]:
        """Call off a BOOKED appointment; the reason is kept in the customer's audit trail."""

        async def work(uow: UnitOfWork) -> AppointmentRecord:
            why = optional_text(reason, REASON_MAX, "A reason", "reason")
            return await self._close(
                uow, appointment_id, expected_version, AppointmentStatus.CANCELLED, why
            )

        return await self.tx.run(self.actor, work)

    async def complete(
        self, appointment_id: uuid.UUID, expected_version: int | None = None
    ) -> Result[AppointmentRecord]:
        """Mark a BOOKED appointment done; it then belongs to the customer's history."""

        async def work(uow: UnitOfWork) -> AppointmentRecord:
            return await self._close(
                uow, appointment_id, expected_version, AppointmentStatus.COMPLETED, None
            )

        return await self.tx.run(self.actor, work)

    async def _close(
        self,
        uow: UnitOfWork,
        appointment_id: uuid.UUID,
        expected_version: int | None,
        status: AppointmentStatus,
        reason: str | None,
    ) -> AppointmentRecord:
        current = await self._require(uow, appointment_id)
        self._require_booked(current)
        # Without an expected version, the version just read: a device that acted in
        # between still makes this one miss the row (then APPOINTMENT_CLOSED or a conflict).
        version = current.version if expected_version is None else expected_version
        field = ("expectedVersion",) if expected_version is not None else ()
        if current.version != version:
            raise self._stale(current, *field)
        values = {"status": status.value, "updated_at": uow.now}
        action = "cancel" if status is AppointmentStatus.CANCELLED else "complete"
        return await self._change(uow, current, version, values, action, field, reason)

    async def _change(
        self,
        uow: UnitOfWork,
        current: AppointmentRecord,
        version: int,
        values: dict[str, Any],
        action: str,
        version_field: tuple[str, ...],
        reason: str | None = None,
    ) -> AppointmentRecord:
        if not await uow.appointments.change_booked(current.id, version, values):
            # Another device changed it since it was read: say what it is now.
            now = await self._require(uow, current.id)
            self._require_booked(now)
            raise self._stale(now, *version_field)
        updated = await self._require(uow, current.id)
        before, after = _snapshot(current), _snapshot(updated)
        changed = [k for k in after if after[k] != before[k]]
        keep = {"appointmentId", *changed}
        extra = {"reason": reason} if reason else {}
        await uow.audit(
            "customer",
            current.customer_id,
            f"appointment_{action}",
            before={k: v for k, v in before.items() if k in keep},
            after={**{k: v for k, v in after.items() if k in keep}, **extra},
        )
        return updated

    @staticmethod
    def _stale(current: AppointmentRecord, *field: str) -> Exception:
        return reject(
            ErrorCode.VERSION_CONFLICT,
            f"The appointment changed meanwhile (now version {current.version}); reload it.",
            *field,
        )

    # -- reads ---------------------------------------------------------------------------

    async def get(self, appointment_id: uuid.UUID) -> AppointmentRecord | None:
        async with self.tx.db.read() as session:
            return await AppointmentRepository(session).get(appointment_id)

    async def diary(
        self, window: AppointmentWindow, first: int, after: str | None
    ) -> Page[AppointmentRecord]:
        """A store's appointments in start order (default store: the caller's, else HO)."""
        bounds = []
        for name, moment in (("from", window.starts_from), ("to", window.starts_before)):
            bounds.append(utc_moment(moment, name) if moment is not None else None)
        store_id = scoped_store(self.actor, window.store_id, "storeId") or (
            self.actor.store_id if self.actor else None
        )
        async with self.tx.db.read() as session:
            repo = AppointmentRepository(session)
            if store_id is None:
                store_id = (await StoreRepository(session).head_office()).id
            return await repo.store_page(
                store_id, bounds[0], bounds[1], window.status, first, after
            )

    async def customer_pages(
        self, customer_ids: list[uuid.UUID], first: int, after: str | None
    ) -> dict[uuid.UUID, Page[AppointmentRecord]]:
        async with self.tx.db.read() as session:
            return await AppointmentRepository(session).customer_pages(customer_ids, first, after)
