from __future__ import annotations

import strawberry

from app.schema.context import Context
from app.schema.errors import user_errors
from app.schema.group import (
    CustomerGroup,
    CustomerGroupConnection,
    CustomerGroupDeletePayload,
    CustomerGroupInput,
    CustomerGroupPayload,
    CustomerGroupUpdateInput,
)
from app.schema.ids import parse_id
from app.schema.pagination import DEFAULT_PAGE_SIZE

Info = strawberry.Info[Context, None]


async def customer_groups(
    info: Info, first: int = DEFAULT_PAGE_SIZE, after: str | None = None
) -> CustomerGroupConnection:
    page = await info.context.groups.page(first, after)
    return CustomerGroupConnection.from_page(page, CustomerGroup.from_record, after=after)


async def customer_group(info: Info, id: strawberry.ID) -> CustomerGroup | None:
    found = await info.context.groups.get(parse_id(id))
    return CustomerGroup.from_record(found) if found else None


async def customer_group_create(info: Info, input: CustomerGroupInput) -> CustomerGroupPayload:
    result = await info.context.groups.create(
        input.name, input.note, input.discount_percent, input.idempotency_key
    )
    return CustomerGroupPayload.from_result(result)


async def customer_group_update(
    info: Info, id: strawberry.ID, input: CustomerGroupUpdateInput
) -> CustomerGroupPayload:
    result = await info.context.groups.update(parse_id(id), input.to_change())
    return CustomerGroupPayload.from_result(result)


async def customer_group_delete(info: Info, id: strawberry.ID) -> CustomerGroupDeletePayload:
    result = await info.context.groups.delete(parse_id(id))
    deleted = strawberry.ID(str(result.value)) if result.value else None
    return CustomerGroupDeletePayload(deleted_id=deleted, errors=user_errors(result.errors))


async def customer_group_add_customers(
    info: Info, group_id: strawberry.ID, customer_ids: list[strawberry.ID]
) -> CustomerGroupPayload:
    result = await info.context.groups.change_members(
        parse_id(group_id), [parse_id(c) for c in customer_ids], add=True
    )
    return CustomerGroupPayload.from_result(result)


async def customer_group_remove_customers(
    info: Info, group_id: strawberry.ID, customer_ids: list[strawberry.ID]
) -> CustomerGroupPayload:
    result = await info.context.groups.change_members(
        parse_id(group_id), [parse_id(c) for c in customer_ids], add=False
    )
    return CustomerGroupPayload.from_result(result)
