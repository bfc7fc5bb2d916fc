"""Store sync types: the change feed and customers created by tills while offline."""

from __future__ import annotations

import uuid
from typing import Any, cast

import strawberry
from strawberry.scalars import JSON

from app.domain.errors import UserError as DomainUserError
from app.domain.permissions import Permission
from app.schema import masks
from app.schema.customer import Customer, CustomerCreateInput
from app.schema.errors import UserError, user_errors
from app.schema.permissions import MaskedWithout, Requires
from app.services import store_sync
from app.services.store_sync import OfflineResult
from app.services.unit_of_work import Result

strawberry.enum(store_sync.ChangeKind, description="CHANGED: apply it; DELETED/MERGED: drop it.")
strawberry.enum(
    store_sync.OfflineStatus,
    description="CREATED: kept with the till's id. MATCHED: relink to customerId. "
    "CONFLICT: kept for a manager; candidates lists who it collides with.",
)


def _id(value: uuid.UUID | None) -> strawberry.ID | None:
    return strawberry.ID(str(value)) if value else None


@strawberry.type(description="One customer of the store's set, in its latest state.")
class CustomerChange:
    kind: store_sync.ChangeKind
    customer_id: strawberry.ID
    customer: Customer | None = strawberry.field(description="Null once deleted.")
    merged_into_id: strawberry.ID | None

    @classmethod
    def from_change(cls, change: store_sync.CustomerChange) -> CustomerChange:
        record = change.customer
        return cls(
            kind=change.kind,
            customer_id=strawberry.ID(str(change.customer_id)),
            customer=Customer.from_record(record) if record else None,
            merged_into_id=_id(record.merged_into_id) if record else None,
        )


@strawberry.type(
    description="A page of a store's change feed. Apply the changes in order, keep endCursor, "
    "and ask again with after: endCursor while hasMore: nothing is missed or repeated."
)
class CustomerChangeFeed:
    changes: list[CustomerChange]
    end_cursor: str | None = strawberry.field(description="Null only before the first change.")
    has_more: bool

    @classmethod
    def from_page(cls, page: store_sync.ChangePage) -> CustomerChangeFeed:
        return cls(
            changes=[CustomerChange.from_change(c) for c in page.changes],
            end_cursor=page.end_cursor,
            has_more=page.has_more,
        )


@strawberry.input
class OfflineCustomerInput:
    client_id: strawberry.ID = strawberry.field(
        description="The UUID the till gave the customer; kept when the customer is CREATED."
    )
    customer: CustomerCreateInput


@strawberry.type
class OfflineCustomerResult:
    client_id: strawberry.ID
    status: store_sync.OfflineStatus
    customer_id: strawberry.ID | None
    candidate_ids: list[strawberry.ID]
    reason: str | None

    @classmethod
    def from_result(cls, result: OfflineResult) -> OfflineCustomerResult:
        return cls(
            client_id=strawberry.ID(str(result.client_id)),
            status=result.status,
            customer_id=_id(result.customer_id),
            candidate_ids=[strawberry.ID(str(c)) for c in result.candidate_ids],
            reason=result.reason,
        )


@strawberry.type
class OfflineSyncPayload:
    results: list[OfflineCustomerResult] | None = strawberry.field(
        description="One per customer sent, in order; null when errors refused the batch."
    )
    errors: list[UserError]

    @classmethod
    def from_errors(cls, errors: list[DomainUserError]) -> OfflineSyncPayload:
        return cls(results=None, errors=user_errors(errors))

    @classmethod
    def from_result(cls, result: Result[list[OfflineResult]]) -> OfflineSyncPayload:
        if result.value is None:
            return cls.from_errors(result.errors)
        return cls(results=[OfflineCustomerResult.from_result(r) for r in result.value], errors=[])


@strawberry.type(description="An offline-created customer waiting for a manager's decision.")
class OfflineConflict:
    client_id: strawberry.ID
    store_id: strawberry.ID
    reason: str | None = strawberry.field(
        # The checks' messages may quote what was typed (an email, a number).
        extensions=[MaskedWithout(Permission.CUSTOMER_VIEW_PII, masks.hidden)]
    )
    candidate_ids: list[strawberry.ID]
    submitted: JSON | None = strawberry.field(
        description="What the till sent.", extensions=[Requires(Permission.CUSTOMER_VIEW_PII)]
    )

    @classmethod
    def from_answer(cls, answer: Any) -> OfflineConflict:
        return cls(
            client_id=strawberry.ID(str(answer.client_id)),
            store_id=strawberry.ID(str(answer.store_id)),
            reason=answer.reason,
            candidate_ids=[strawberry.ID(str(c)) for c in answer.candidate_ids],
            submitted=cast(JSON, answer.payload),
        )
