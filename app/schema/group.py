"""Customer group types, inputs and payloads."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import TYPE_CHECKING

import strawberry

from app.domain import records
from app.domain.errors import UserError as DomainUserError
from app.domain.permissions import Permission
from app.domain.values import UNSET as DOMAIN_UNSET
from app.schema.customer import Customer
from app.schema.errors import UserError, user_errors
from app.schema.pagination import DEFAULT_PAGE_SIZE, Connection
from app.schema.permissions import Requires
from app.services.groups import GroupChange
from app.services.unit_of_work import Result

if TYPE_CHECKING:
    from app.schema.context import Context


async def _members(
    root: CustomerGroup,
    info: strawberry.Info[Context, None],
    first: int = DEFAULT_PAGE_SIZE,
    after: str | None = None,
) -> Connection[Customer]:
    page = await info.context.loaders.members_by_group_id.load((uuid.UUID(root.id), first, after))
    return Connection[Customer].from_page(page, Customer.from_record, after=after)


@strawberry.type(description="A named set of customers, with an optional discount (seed 004).")
class CustomerGroup:
    id: strawberry.ID
    name: str
    note: str | None
    discount_percent: Decimal | None
    member_count: int
    members: Connection[Customer] = strawberry.field(
        resolver=_members, extensions=[Requires(Permission.CUSTOMER_VIEW)]
    )

    @classmethod
    def from_record(cls, r: records.CustomerGroupRecord) -> CustomerGroup:
        return cls(
            id=strawberry.ID(str(r.id)),
            name=r.name,
            note=r.note,
            discount_percent=r.discount_percent,
            member_count=r.member_count,
        )


CustomerGroupConnection = Connection[CustomerGroup]


@strawberry.input
class CustomerGroupInput:
    name: str
    note: str | None = None
    discount_percent: Decimal | None = None
    idempotency_key: str | None = strawberry.field(
        default=None,
        description="A retry with the same key gets the first group back.",
    )


@strawberry.input(description="Only the fields given change; null clears note or discount.")
class CustomerGroupUpdateInput:
    name: str | None = strawberry.UNSET
    note: str | None = strawberry.UNSET
    discount_percent: Decimal | None = strawberry.UNSET

    def to_change(self) -> GroupChange:
        def given(value: object) -> object:
            return DOMAIN_UNSET if value is strawberry.UNSET else value

        # A null name is no change (a group always has one).
        name = DOMAIN_UNSET if self.name is None else given(self.name)
        return GroupChange(
            name=name,  # type: ignore[arg-type]
            note=given(self.note),  # type: ignore[arg-type]
            discount_percent=given(self.discount_percent),  # type: ignore[arg-type]
        )


@strawberry.type
class CustomerGroupPayload:
    group: CustomerGroup | None
    errors: list[UserError]

    @classmethod
    def from_result(cls, result: Result[records.CustomerGroupRecord]) -> CustomerGroupPayload:
        group = CustomerGroup.from_record(result.value) if result.value else None
        return cls(group=group, errors=user_errors(result.errors))

    @classmethod
    def from_errors(cls, errors: list[DomainUserError]) -> CustomerGroupPayload:
        return cls(group=None, errors=user_errors(errors))


@strawberry.type
class CustomerGroupDeletePayload:
    deleted_id: strawberry.ID | None
    errors: list[UserError]

    @classmethod
    def from_errors(cls, errors: list[DomainUserError]) -> CustomerGroupDeletePayload:
        return cls(deleted_id=None, errors=user_errors(errors))
