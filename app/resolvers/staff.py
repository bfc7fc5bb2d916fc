from __future__ import annotations

import strawberry

from app.domain.errors import ErrorCode
from app.domain.errors import UserError as DomainUserError
from app.schema.context import Context
from app.schema.errors import user_errors
from app.schema.ids import parse_id
from app.schema.staff import (
    DonePayload,
    Role,
    RoleDeletePayload,
    RoleInput,
    RolePayload,
    StaffSession,
    StaffUser,
    StaffUserInput,
    StaffUserPayload,
    StaffUserUpdateInput,
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


async def roles(info: Info) -> list[Role]:
    return [Role.from_record(r) for r in await info.context.staff.roles()]


async def role_update(info: Info, id: strawberry.ID, input: RoleInput) -> RolePayload:
    result = await info.context.staff.update_role(parse_id(id), input.name, input.permissions)
    role = Role.from_record(result.value) if result.value else None
    return RolePayload(role=role, errors=user_errors(result.errors))


async def role_delete(info: Info, id: strawberry.ID) -> RoleDeletePayload:
    result = await info.context.staff.delete_role(parse_id(id))
    deleted = strawberry.ID(str(result.value)) if result.value else None
    return RoleDeletePayload(deleted_id=deleted, errors=user_errors(result.errors))


async def staff_user_update(
    info: Info, id: strawberry.ID, input: StaffUserUpdateInput
) -> StaffUserPayload:
    if null := input.null_field():
        return StaffUserPayload.from_errors(
            [DomainUserError(ErrorCode.REQUIRED, "Leave it out, or give a value.", ("input", null))]
        )
    result = await info.context.staff.update_user(parse_id(id), input.to_change())
    user = StaffUser.from_record(result.value) if result.value else None
    return StaffUserPayload(staff_user=user, errors=user_errors(result.errors))


async def till_revoke(info: Info, id: strawberry.ID) -> TillPayload:
    result = await info.context.staff.revoke_till(parse_id(id))
    if result.value is None:
        return TillPayload.from_errors(result.errors)
    return TillPayload(till=Till.from_record(result.value), device_token=None, errors=[])


async def staff_password_change(
    info: Info, current_password: str, new_password: str
) -> DonePayload:
    result = await info.context.staff.change_own_password(
        current_password, new_password, info.context.client_address
    )
    return DonePayload(done=bool(result.value), errors=user_errors(result.errors))


async def my_sessions(info: Info) -> list[StaffSession]:
    actor = info.context.actor
    current = actor.token_id if actor else None
    return [StaffSession.from_record(s, current) for s in await info.context.staff.my_sessions()]


async def session_end(info: Info, id: strawberry.ID) -> DonePayload:
    result = await info.context.staff.end_session(parse_id(id))
    return DonePayload(done=bool(result.value), errors=user_errors(result.errors))
