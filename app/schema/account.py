"""Online-store accounts (issue 10 §3): the shop's view, and the signed-in customer's own."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING

import strawberry

from app.domain import records
from app.domain.accounts import OnlineAccountRecord, OnlineAccountState
from app.domain.errors import UserError as DomainUserError
from app.domain.values import UNSET, Unset
from app.schema.errors import UserError, user_errors
from app.services.customers import CustomerUpdate
from app.services.unit_of_work import Result

if TYPE_CHECKING:
    from app.schema.context import Context

strawberry.enum(OnlineAccountState)


@strawberry.type(description="The customer's sign-in to the online store (seed 003).")
class OnlineAccount:
    state: OnlineAccountState = strawberry.field(
        description="INVITED until the first sign-in; DISABLED after a merge into another."
    )
    created_at: datetime
    last_login_at: datetime | None

    @classmethod
    def from_record(cls, record: OnlineAccountRecord) -> OnlineAccount:
        return cls(
            state=record.state, created_at=record.created_at, last_login_at=record.last_login_at
        )


@strawberry.type(description="A sign-in answer: the customer's token, for customerMe.")
class CustomerLoginPayload:
    token: str | None
    errors: list[UserError]

    @classmethod
    def from_result(cls, result: Result[str]) -> CustomerLoginPayload:
        return cls(token=result.value, errors=user_errors(result.errors))


@strawberry.type(description="The same answer whether or not the sign-in name exists.")
class CustomerPasswordResetRequestPayload:
    errors: list[UserError]


@strawberry.type(description="The signed-in customer's own profile, as the online store shows it.")
class CustomerSelf:
    id: strawberry.ID
    version: int
    name: str
    email: str | None
    phone: str | None
    email_subscribed: bool = strawberry.field(description="Promotions and offers by email.")
    sms_subscribed: bool = strawberry.field(description="Promotions and offers by SMS.")

    @strawberry.field
    async def online_account(self, info: strawberry.Info[Context, None]) -> OnlineAccount | None:
        found = await info.context.loaders.online_accounts.load(uuid.UUID(self.id))
        return OnlineAccount.from_record(found) if found else None

    @classmethod
    def from_record(
        cls,
        record: records.CustomerRecord,
        consents: dict[records.MarketingChannel, records.ConsentRecord],
    ) -> CustomerSelf:
        def on(channel: records.MarketingChannel) -> bool:
            found = consents.get(channel)
            return found is not None and found.state is records.ConsentState.SUBSCRIBED

        return cls(
            id=strawberry.ID(str(record.id)),
            version=record.version,
            name=record.name,
            email=record.email,
            phone=record.phone,
            email_subscribed=on(records.MarketingChannel.EMAIL),
            sms_subscribed=on(records.MarketingChannel.SMS),
        )


@strawberry.type
class CustomerSelfPayload:
    me: CustomerSelf | None
    errors: list[UserError]

    @classmethod
    def from_errors(cls, errors: list[DomainUserError]) -> CustomerSelfPayload:
        return cls(me=None, errors=user_errors(errors))


@strawberry.input(description="Only the fields given change.")
class CustomerSelfInput:
    expected_version: int
    name: str | None = strawberry.UNSET
    email: str | None = strawberry.UNSET
    phone: str | None = strawberry.UNSET

    def to_command(self) -> CustomerUpdate:
        def given(value: str | None) -> str | Unset | None:
            return UNSET if value is strawberry.UNSET else value

        return CustomerUpdate(
            expected_version=self.expected_version,
            name=given(self.name),
            email=given(self.email),
            phone=given(self.phone),
        )


@strawberry.type
class CustomerLogoutPayload:
    revoked: bool
    errors: list[UserError]

    @classmethod
    def from_errors(cls, errors: list[DomainUserError]) -> CustomerLogoutPayload:
        return cls(revoked=False, errors=user_errors(errors))
