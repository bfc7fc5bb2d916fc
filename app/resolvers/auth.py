from __future__ import annotations

import strawberry

from app.schema.context import Context
from app.schema.errors import user_errors
from app.schema.staff import LoginPayload, LogoutPayload, StaffUser, Viewer

Info = strawberry.Info[Context, None]


async def login(info: Info, username: str, password: str) -> LoginPayload:
    result = await info.context.auth.login(username, password, info.context.client_address)
    return LoginPayload.from_result(result)


async def logout(info: Info) -> LogoutPayload:
    result = await info.context.auth.logout()
    return LogoutPayload(
        revoked=bool(result.value),
        errors=user_errors(result.errors),
    )


async def me(info: Info) -> StaffUser | None:
    user = await info.context.auth.current_user()
    return StaffUser.from_record(user) if user else None


def viewer(info: Info) -> Viewer | None:
    actor = info.context.actor
    if actor is None:
        return None
    return Viewer(
        kind=actor.kind.value,
        label=actor.label,
        store_id=strawberry.ID(str(actor.store_id)) if actor.store_id else None,
        till_id=strawberry.ID(str(actor.till_id)) if actor.till_id else None,
        permissions=sorted(actor.permissions),
    )
