from __future__ import annotations

import strawberry

from app.schema.context import Context
from app.schema.errors import user_errors
from app.schema.ids import parse_id
from app.schema.staff import (
    Role,
    RoleInput,
    RolePayload,
    StaffUser,
    StaffUserInput,
    StaffUserPayload,
    Store,
    StoreInput,
    StorePayload,
    Till,
    TillInput,
    TillPayload,
)

Info = strawberry.Info[Context, None]


async def stores(info: Info) -> list[Store]:
    return [Store.from_record(s) for s in await info.context.auth.stores()]


async def store_create(info: Info, input: StoreInput) -> StorePayload:
    result = await info.context.auth.create_store(input.code, input.name)
    store = Store.from_record(result.value) if result.value else None
    return StorePayload(store=store, errors=user_errors(result.errors))


async def role_create(info: Info, input: RoleInput) -> RolePayload:
    result = await info.context.auth.create_role(input.name, list(input.permissions))
    role = Role.from_record(result.value) if result.value else None
    return RolePayload(role=role, errors=user_errors(result.errors))


async def staff_user_create(info: Info, input: StaffUserInput) -> StaffUserPayload:
    result = await info.context.auth.create_staff_user(
        input.username,
        input.password,
        parse_id(input.role_id),
        parse_id(input.store_id) if input.store_id else None,
    )
    user = StaffUser.from_record(result.value) if result.value else None
    return StaffUserPayload(staff_user=user, errors=user_errors(result.errors))


async def till_create(info: Info, input: TillInput) -> TillPayload:
    result = await info.context.auth.create_till(
        parse_id(input.store_id) if input.store_id else None,
        input.name,
        parse_id(input.role_id),
    )
    if result.value is None:
        return TillPayload.from_errors(result.errors)
    return TillPayload(
        till=Till.from_record(result.value.till),
        device_token=result.value.device_token,
        errors=[],
    )
