from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry

from app.schema.context import Context
from app.schema.customer import CustomerPayload
from app.schema.discount import (
    DiscountCode,
    DiscountCodeConnection,
    DiscountCodeInput,
    DiscountCodePayload,
    DiscountCodeUpdateInput,
)
from app.schema.ids import parse_id
from app.schema.pagination import DEFAULT_PAGE_SIZE

Info = strawberry.Info[Context, None]


async def discount_codes(
    info: Info,
    first: int = DEFAULT_PAGE_SIZE,
    after: str | None = None,
    active: bool | None = None,
) -> DiscountCodeConnection:
    page = await info.context.discounts.page(first, after, active)
    return DiscountCodeConnection.from_page(page, DiscountCode.from_record, after=after)


async def discount_code_create(info: Info, input: DiscountCodeInput) -> DiscountCodePayload:
    result = await info.context.discounts.create(
        input.code, input.percent, input.description, input.active, input.idempotency_key
    )
    return DiscountCodePayload.from_result(result)


async def discount_code_update(
    info: Info, id: strawberry.ID, input: DiscountCodeUpdateInput
) -> DiscountCodePayload:
    result = await info.context.discounts.update(parse_id(id), input.to_change())
    return DiscountCodePayload.from_result(result)


async def customer_discount_assign(
    info: Info,
    customer_id: strawberry.ID,
    code: str,
    expires_at: Annotated[
        datetime | None,
        strawberry.argument(description="With its time zone offset; null: it does not expire."),
    ] = None,
) -> CustomerPayload:
    result = await info.context.discounts.assign(parse_id(customer_id), code, expires_at)
    return CustomerPayload.from_result(result)


async def customer_discount_remove(info: Info, customer_id: strawberry.ID) -> CustomerPayload:
    result = await info.context.discounts.remove(parse_id(customer_id))
    return CustomerPayload.from_result(result)
