"""Online-store accounts (issue 10 §3): invitations, customer sign-in and reset, customerMe."""

from __future__ import annotations

import strawberry

from app.domain.records import CustomerRecord, MarketingChannel
from app.schema.account import (
    CustomerLoginPayload,
    CustomerLogoutPayload,
    CustomerPasswordResetRequestPayload,
    CustomerSelf,
    CustomerSelfInput,
    CustomerSelfPayload,
)
from app.schema.context import Context
from app.schema.customer import CustomerPayload
from app.schema.errors import user_errors
from app.schema.ids import parse_id
from app.services.unit_of_work import Result

Info = strawberry.Info[Context, None]


async def customer_account_invite(info: Info, customer_id: strawberry.ID) -> CustomerPayload:
    result = await info.context.online_accounts.invite(parse_id(customer_id))
    return CustomerPayload.from_result(result)


async def customer_account_login(info: Info, login: str, password: str) -> CustomerLoginPayload:
    result = await info.context.online_accounts.login(login, password, info.context.client_address)
    return CustomerLoginPayload.from_result(result)


async def customer_password_reset_request(
    info: Info, login: str
) -> CustomerPasswordResetRequestPayload:
    result = await info.context.online_accounts.request_reset(login, info.context.client_address)
    return CustomerPasswordResetRequestPayload(errors=user_errors(result.errors))


async def customer_password_reset(
    info: Info, login: str, code: str, new_password: str
) -> CustomerLoginPayload:
    result = await info.context.online_accounts.reset(
        login, code, new_password, info.context.client_address
    )
    return CustomerLoginPayload.from_result(result)


async def _self(info: Info, record: CustomerRecord) -> CustomerSelf:
    consents = await info.context.loaders.consents.load(record.id)
    return CustomerSelf.from_record(record, consents)


async def _self_payload(info: Info, result: Result[CustomerRecord]) -> CustomerSelfPayload:
    if result.value is None:
        return CustomerSelfPayload.from_errors(result.errors)
    return CustomerSelfPayload(me=await _self(info, result.value), errors=[])


async def customer_me(info: Info) -> CustomerSelf | None:
    found = await info.context.online_accounts.me()
    return await _self(info, found) if found else None


async def customer_me_update(info: Info, input: CustomerSelfInput) -> CustomerSelfPayload:
    result = await info.context.online_accounts.update_me(input.to_command())
    return await _self_payload(info, result)


async def customer_me_consent_update(
    info: Info, channel: MarketingChannel, subscribed: bool
) -> CustomerSelfPayload:
    result = await info.context.online_accounts.update_my_consent(channel, subscribed)
    return await _self_payload(info, result)


async def customer_logout(info: Info) -> CustomerLogoutPayload:
    result = await info.context.online_accounts.logout()
    return CustomerLogoutPayload(revoked=bool(result.value), errors=user_errors(result.errors))
