"""Appointment types, inputs and payloads (seed 004: appointment history)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from app.domain.appointments import AppointmentRecord, AppointmentStatus
from app.domain.errors import UserError as DomainUserError
from app.domain.permissions import Permission
from app.domain.values import UNSET as DOMAIN_UNSET
from app.schema.errors import UserError, user_errors
from app.schema.ids import parse_id
from app.schema.pagination import Connection
from app.schema.permissions import Requires
from app.schema.staff import StaffUser, Store
from app.services.appointments import (
    DURATION_DEFAULT,
    AppointmentCreate,
    AppointmentReschedule,
)
from app.services.unit_of_work import Result

if TYPE_CHECKING:
    from app.schema.context import Context
    from app.schema.customer import Customer

strawberry.enum(AppointmentStatus, description="BOOKED until completed or cancelled; both final.")


async def _customer(
    root: Appointment, info: strawberry.Info[Context, None]
) -> Annotated[Customer, strawberry.lazy("app.schema.customer")] | None:
    from app.schema.customer import Customer  # the customer module imports this one

    found = await info.context.loaders.customers.load(root.customer_id)
    return Customer.from_record(found) if found else None


@strawberry.type(
    description="A booked service for a customer at a store, maybe with a staff member."
)
class Appointment:
    id: strawberry.ID
    # Nullable and CUSTOMER_VIEW, as Sale.customer: a booking desk's CUSTOMER_MODIFY
    # alone does not read customers (the foreign key cascades: one always exists).
    customer: Annotated[Customer, strawberry.lazy("app.schema.customer")] | None = strawberry.field(
        resolver=_customer, extensions=[Requires(Permission.CUSTOMER_VIEW)]
    )
    customer_id: strawberry.Private[uuid.UUID]
    store: Store
    staff: StaffUser | None = strawberry.field(description="Null: anyone free may take it.")
    service: str
    starts_at: datetime
    ends_at: datetime
    duration_minutes: int
    status: AppointmentStatus
    note: str | None
    created_at: datetime
    created_by: str
    updated_at: datetime | None
    version: int = strawberry.field(description="Pass as expectedVersion to change it.")

    @classmethod
    def from_record(cls, r: AppointmentRecord) -> Appointment:
        return cls(
            id=strawberry.ID(str(r.id)),
            customer_id=r.customer_id,
            store=Store.from_record(r.store),
            staff=StaffUser.from_record(r.staff) if r.staff else None,
            service=r.service,
            starts_at=r.starts_at,
            ends_at=r.ends_at,
            duration_minutes=r.duration_minutes,
            status=r.status,
            note=r.note,
            created_at=r.created_at,
            created_by=r.created_by,
            updated_at=r.updated_at,
            version=r.version,
        )


AppointmentConnection = Connection[Appointment]


@strawberry.input
class AppointmentCreateInput:
    service: str = strawberry.field(description="What is booked, e.g. Haircut; up to 200.")
    starts_at: datetime = strawberry.field(description="With its time zone offset.")
    duration_minutes: int = strawberry.field(
        default=DURATION_DEFAULT, description="5 to 720 minutes."
    )
    store_id: strawberry.ID | None = strawberry.field(
        default=None, description="Default: the caller's store, else the head office."
    )
    staff_id: strawberry.ID | None = strawberry.field(
        default=None, description="Who does it; a staff member cannot be booked twice at once."
    )
    note: str | None = None
    idempotency_key: str | None = strawberry.field(
        default=None,
        description="A till's retry with the same key gets the first booking back.",
    )

    def to_command(self, customer_id: uuid.UUID) -> AppointmentCreate:
        return AppointmentCreate(
            customer_id=customer_id,
            service=self.service,
            starts_at=self.starts_at,
            duration_minutes=self.duration_minutes,
            store_id=parse_id(self.store_id) if self.store_id else None,
            staff_id=parse_id(self.staff_id) if self.staff_id else None,
            note=self.note,
            idempotency_key=self.idempotency_key,
        )


@strawberry.input(description="A new start; the length and staff member change only if given.")
class AppointmentRescheduleInput:
    expected_version: int
    starts_at: datetime = strawberry.field(description="With its time zone offset.")
    duration_minutes: int | None = strawberry.UNSET
    staff_id: strawberry.ID | None = strawberry.field(
        default=strawberry.UNSET, description="Null: no particular staff member."
    )

    def to_command(self) -> AppointmentReschedule:
        duration = self.duration_minutes
        staff = self.staff_id
        return AppointmentReschedule(
            expected_version=self.expected_version,
            starts_at=self.starts_at,
            # A null length is no change: a booking always has one.
            duration_minutes=DOMAIN_UNSET
            if duration is strawberry.UNSET or duration is None
            else duration,
            staff_id=DOMAIN_UNSET
            if staff is strawberry.UNSET
            else (parse_id(staff) if staff is not None else None),
        )


@strawberry.type
class AppointmentPayload:
    appointment: Appointment | None
    errors: list[UserError]

    @classmethod
    def from_result(cls, result: Result[AppointmentRecord]) -> AppointmentPayload:
        found = Appointment.from_record(result.value) if result.value else None
        return cls(appointment=found, errors=user_errors(result.errors))

    @classmethod
    def from_errors(cls, errors: list[DomainUserError]) -> AppointmentPayload:
        return cls(appointment=None, errors=user_errors(errors))
