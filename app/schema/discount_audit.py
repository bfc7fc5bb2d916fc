"""Findings of the discount-usage audit (issue 11 §6; names fixed in DESIGN.md §3b)."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, cast

import strawberry
from strawberry.scalars import JSON

from app.domain.discount_audit import (
    FindingFilter,
    FindingRecord,
    FindingRule,
    FindingSeverity,
    FindingStatus,
)
from app.domain.errors import UserError as DomainUserError
from app.domain.permissions import Permission
from app.schema.errors import UserError, user_errors
from app.schema.ids import parse_id
from app.schema.pagination import Connection
from app.schema.permissions import Requires
from app.schema.staff import StaffUser
from app.services.unit_of_work import Result

if TYPE_CHECKING:
    from app.schema.context import Context
    from app.schema.customer import Customer
    from app.schema.sale import Sale

strawberry.enum(
    FindingRule, name="DiscountAuditRule", description="docs/analytics.md explains each."
)
strawberry.enum(FindingSeverity, name="FindingSeverity")
strawberry.enum(FindingStatus, name="FindingStatus", description="Triage: OPEN until judged.")


async def _sale(
    root: DiscountAuditFinding, info: strawberry.Info[Context, None]
) -> Annotated[Sale, strawberry.lazy("app.schema.sale")] | None:
    from app.schema.sale import Sale

    if root.sale_id is None:
        return None
    found = await info.context.loaders.sales.load(root.sale_id)
    return Sale.from_record(found) if found else None


async def _customer(
    root: DiscountAuditFinding, info: strawberry.Info[Context, None]
) -> Annotated[Customer, strawberry.lazy("app.schema.customer")] | None:
    from app.schema.customer import Customer

    if root.customer_id is None:
        return None
    found = await info.context.loaders.customers.load(root.customer_id)
    return Customer.from_record(found) if found else None


@strawberry.type(description="Something the discount-usage audit found, and how it was triaged.")
class DiscountAuditFinding:
    id: strawberry.ID
    rule: FindingRule
    severity: FindingSeverity
    status: FindingStatus
    detected_at: datetime
    explanation: str
    cashier: StaffUser | None = strawberry.field(
        description="Who rang up the sale, or the outlier."
    )
    store_id: strawberry.ID | None
    amount: Decimal | None = strawberry.field(
        description="The discount given (points' value for adjusted points; the window's "
        "discounts for an outlier); null where a rate has no amount."
    )
    details: JSON = strawberry.field(description="The figures the rule judged by.")
    note: str | None
    triaged_by: str | None
    triaged_at: datetime | None
    sale_id: strawberry.Private[uuid.UUID | None]
    customer_id: strawberry.Private[uuid.UUID | None]

    @classmethod
    def from_record(cls, r: FindingRecord) -> DiscountAuditFinding:
        return cls(
            id=strawberry.ID(str(r.id)),
            rule=r.rule,
            severity=r.severity,
            status=r.status,
            detected_at=r.detected_at,
            explanation=r.explanation,
            cashier=StaffUser.from_record(r.cashier) if r.cashier else None,
            store_id=strawberry.ID(str(r.store_id)) if r.store_id else None,
            amount=r.amount,
            details=cast(JSON, r.details),
            note=r.note,
            triaged_by=r.triaged_by,
            triaged_at=r.triaged_at,
            sale_id=r.sale_id,
            customer_id=r.customer_id,
        )

    sale: Annotated[Sale, strawberry.lazy("app.schema.sale")] | None = strawberry.field(
        resolver=_sale, description="The sale judged; null for a cashier's rate over a window."
    )
    customer: Annotated[Customer, strawberry.lazy("app.schema.customer")] | None = strawberry.field(
        resolver=_customer,
        description="The customer on the sale, or whose discount was used.",
        extensions=[Requires(Permission.CUSTOMER_VIEW)],
    )


DiscountAuditFindingConnection = Connection[DiscountAuditFinding]


@strawberry.input(description="Each field given narrows the list; `from` inclusive, `to` not.")
class DiscountAuditFilter:
    rule: FindingRule | None = None
    status: FindingStatus | None = None
    severity: FindingSeverity | None = None
    store_id: strawberry.ID | None = None
    cashier_id: strawberry.ID | None = None
    from_: datetime | None = strawberry.field(default=None, name="from")
    to: datetime | None = None

    def to_filter(self) -> FindingFilter:
        return FindingFilter(
            rule=self.rule,
            status=self.status,
            severity=self.severity,
            store_id=parse_id(self.store_id) if self.store_id is not None else None,
            cashier_id=parse_id(self.cashier_id) if self.cashier_id is not None else None,
            detected_from=self.from_,
            detected_to=self.to,
        )


@strawberry.type
class DiscountAuditFindingPayload:
    finding: DiscountAuditFinding | None
    errors: list[UserError]

    @classmethod
    def from_result(cls, result: Result[FindingRecord]) -> DiscountAuditFindingPayload:
        found = DiscountAuditFinding.from_record(result.value) if result.value else None
        return cls(finding=found, errors=user_errors(result.errors))

    @classmethod
    def from_errors(cls, errors: list[DomainUserError]) -> DiscountAuditFindingPayload:
        return cls(finding=None, errors=user_errors(errors))
