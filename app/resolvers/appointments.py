from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry

from app.domain.appointments import AppointmentStatus
from app.domain.errors import Rejected
from app.schema.appointment import (
    Appointment,
    AppointmentConnection,
    AppointmentCreateInput,
    AppointmentPayload,
    AppointmentRescheduleInput,
)
from app.schema.context import Context
from app.schema.errors import ClientError
from app.schema.ids import parse_id
from app.schema.pagination import DEFAULT_PAGE_SIZE
from app.services.appointments import AppointmentWindow

Info = strawberry.Info[Context, None]


async def appointment(info: Info, id: strawberry.ID) -> Appointment | None:
    found = await info.context.appointments.get(parse_id(id))
    return Appointment.from_record(found) if found else None


async def appointments(
    info: Info,
    store_id: Annotated[
        strawberry.ID | None,
        strawberry.argument(description="Default: the caller's store, else the head office."),
    ] = None,
    from_: Annotated[
        datetime | None,
        strawberry.argument(name="from", description="Starting at or after; with its offset."),
    ] = None,
    to: Annotated[
        datetime | None, strawberry.argument(description="Starting before; with its offset.")
    ] = None,
    status: AppointmentStatus | None = None,
    first: int = DEFAULT_PAGE_SIZE,
    after: str | None = None,
) -> AppointmentConnection:
    window = AppointmentWindow(
        store_id=parse_id(store_id) if store_id else None,
        starts_from=from_,
        starts_before=to,
        status=status,
    )
    try:
        page = await info.context.appointments.diary(window, first, after)
    except Rejected as rejected:
        raise ClientError.from_rejected(rejected) from None
    return AppointmentConnection.from_page(page, Appointment.from_record, after=after)


async def appointment_create(
    info: Info, customer_id: strawberry.ID, input: AppointmentCreateInput
) -> AppointmentPayload:
    result = await info.context.appointments.create(input.to_command(parse_id(customer_id)))
    return AppointmentPayload.from_result(result)


async def appointment_reschedule(
    info: Info, id: strawberry.ID, input: AppointmentRescheduleInput
) -> AppointmentPayload:
    result = await info.context.appointments.reschedule(parse_id(id), input.to_command())
    return AppointmentPayload.from_result(result)


async def appointment_cancel(
    info: Info,
    id: strawberry.ID,
    reason: Annotated[
        str | None, strawberry.argument(description="Kept in the customer's audit trail.")
    ] = None,
    expected_version: Annotated[
        int | None, strawberry.argument(description="Refused if it changed since (optional).")
    ] = None,
) -> AppointmentPayload:
    result = await info.context.appointments.cancel(parse_id(id), reason, expected_version)
    return AppointmentPayload.from_result(result)


async def appointment_complete(
    info: Info,
    id: strawberry.ID,
    expected_version: Annotated[
        int | None, strawberry.argument(description="Refused if it changed since (optional).")
    ] = None,
) -> AppointmentPayload:
    result = await info.context.appointments.complete(parse_id(id), expected_version)
    return AppointmentPayload.from_result(result)
