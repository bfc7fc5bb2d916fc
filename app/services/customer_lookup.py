"""The one check every command on an existing customer starts with."""

from __future__ import annotations

import uuid

from app.domain.errors import ErrorCode, reject
from app.domain.records import CustomerRecord
from app.services.unit_of_work import UnitOfWork


async def live_customer(uow: UnitOfWork, customer_id: uuid.UUID, *field: str) -> CustomerRecord:
    """The customer, if it exists and was not merged into another (then it is a pointer).

    ``field`` is the input path errors name (default ``customerId``).
    """
    field = field or ("customerId",)
    customer = await uow.customers.get(customer_id)
    if customer is None:
        raise reject(ErrorCode.NOT_FOUND, "No such customer.", *field)
    if customer.merged_into_id is not None:
        raise reject(
            ErrorCode.CUSTOMER_MERGED,
            "This customer was merged into another (see mergedIntoId); use that one.",
            *field,
        )
    return customer
