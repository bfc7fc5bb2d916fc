"""Discount code types, inputs and payloads (seed 002)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import strawberry

from app.domain import records
from app.domain.errors import UserError as DomainUserError
from app.domain.values import UNSET as DOMAIN_UNSET
from app.schema.errors import UserError, user_errors
from app.schema.pagination import Connection
from app.services.discounts import DiscountCodeChange
from app.services.unit_of_work import Result


@strawberry.type(description="A predefined preferential rate that can be assigned to customers.")
class DiscountCode:
    id: strawberry.ID
    code: str
    percent: Decimal
    description: str | None
    active: bool = strawberry.field(description="Only active codes can be assigned or apply.")
    created_at: datetime

    @classmethod
    def from_record(cls, r: records.DiscountCodeRecord) -> DiscountCode:
        return cls(
            id=strawberry.ID(str(r.id)),
            code=r.code,
            percent=r.percent,
            description=r.description,
            active=r.active,
            created_at=r.created_at,
        )


DiscountCodeConnection = Connection[DiscountCode]


@strawberry.type(description="The discount code a customer holds and who gave it to them.")
class CustomerDiscount:
    discount_code_id: strawberry.ID
    code: str
    percent: Decimal
    description: str | None
    expires_at: datetime | None = strawberry.field(description="Null: it does not expire.")
    assigned_at: datetime
    assigned_by: str

    @classmethod
    def from_record(cls, r: records.CustomerDiscountRecord) -> CustomerDiscount:
        return cls(
            discount_code_id=strawberry.ID(str(r.discount_code_id)),
            code=r.code,
            percent=r.percent,
            description=r.description,
            expires_at=r.expires_at,
            assigned_at=r.assigned_at,
            assigned_by=r.assigned_by,
        )


@strawberry.input
class DiscountCodeInput:
    code: str = strawberry.field(description="1-32 letters, digits, '-' or '_'; any case.")
    percent: Decimal = strawberry.field(description="Above 0, at most 100, two decimals.")
    description: str | None = None
    active: bool = True
    idempotency_key: str | None = strawberry.field(
        default=None,
        description="A retry with the same key gets the first code back.",
    )


@strawberry.input(
    description="Only the fields given change; null clears the description. "
    "The code itself cannot change once given out."
)
class DiscountCodeUpdateInput:
    percent: Decimal | None = strawberry.UNSET
    description: str | None = strawberry.UNSET
    active: bool | None = strawberry.UNSET

    def to_change(self) -> DiscountCodeChange:
        def given(value: object) -> object:
            # A null percent or active is no change: a code always has both.
            return DOMAIN_UNSET if value is strawberry.UNSET or value is None else value

        description = DOMAIN_UNSET if self.description is strawberry.UNSET else self.description
        return DiscountCodeChange(
            percent=given(self.percent),  # type: ignore[arg-type]
            description=description,
            active=given(self.active),  # type: ignore[arg-type]
        )


@strawberry.type
class DiscountCodePayload:
    discount_code: DiscountCode | None
    errors: list[UserError]

    @classmethod
    def from_result(cls, result: Result[records.DiscountCodeRecord]) -> DiscountCodePayload:
        code = DiscountCode.from_record(result.value) if result.value else None
        return cls(discount_code=code, errors=user_errors(result.errors))

    @classmethod
    def from_errors(cls, errors: list[DomainUserError]) -> DiscountCodePayload:
        return cls(discount_code=None, errors=user_errors(errors))
