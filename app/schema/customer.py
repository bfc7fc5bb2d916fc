"""Customer types, inputs and payloads."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, cast

import strawberry
from strawberry.scalars import JSON

from app.domain import records
from app.domain.errors import UserError as DomainUserError
from app.domain.permissions import Permission
from app.domain.values import UNSET as DOMAIN_UNSET
from app.schema.errors import UserError, user_errors
from app.schema.ids import parse_id
from app.schema.pagination import DEFAULT_PAGE_SIZE, Connection
from app.schema.permissions import Requires
from app.services.customers import CustomerCreate, CustomerQuery, CustomerUpdate
from app.services.unit_of_work import Result

if TYPE_CHECKING:
    from app.schema.context import Context
    from app.schema.group import CustomerGroup

strawberry.enum(records.CustomerStatus)
strawberry.enum(records.MarketingChannel)
strawberry.enum(records.ConsentState)
strawberry.enum(records.ConsentSource)


@strawberry.type(description="Consent to marketing on one channel; off by default.")
class ChannelConsent:
    state: records.ConsentState
    changed_at: datetime | None
    source: records.ConsentSource | None
    changed_by: str | None

    @classmethod
    def from_record(cls, record: records.ConsentRecord | None) -> ChannelConsent:
        if record is None:
            return cls(
                state=records.ConsentState.NOT_SUBSCRIBED,
                changed_at=None,
                source=None,
                changed_by=None,
            )
        return cls(
            state=record.state,
            changed_at=record.changed_at,
            source=record.source,
            changed_by=record.actor_label,
        )


@strawberry.type
class MarketingConsent:
    email: ChannelConsent
    sms: ChannelConsent


@strawberry.type(
    description="One change to a record: who, when, what, and the values before and after."
)
class AuditEntry:
    id: strawberry.ID
    action: str
    actor: str
    at: datetime
    before: JSON | None
    after: JSON | None

    @classmethod
    def from_record(cls, record: records.AuditRecord) -> AuditEntry:
        return cls(
            id=strawberry.ID(str(record.id)),
            action=record.action,
            actor=record.actor_label,
            at=record.at,
            before=cast(JSON, record.before),
            after=cast(JSON, record.after),
        )


AuditEntryConnection = Connection[AuditEntry]


async def _audit_trail(
    root: Customer,
    info: strawberry.Info[Context, None],
    first: int = DEFAULT_PAGE_SIZE,
    after: str | None = None,
) -> Connection[AuditEntry] | None:
    page = await info.context.loaders.audit_pages.load((uuid.UUID(root.id), first, after))
    return Connection[AuditEntry].from_page(page, AuditEntry.from_record, after=after)


async def _groups(
    root: Customer, info: strawberry.Info[Context, None]
) -> list[Annotated[CustomerGroup, strawberry.lazy("app.schema.group")]]:
    from app.schema.group import CustomerGroup  # the group module imports this one

    found = await info.context.loaders.groups.load(uuid.UUID(root.id))
    return [CustomerGroup.from_record(g) for g in found]


@strawberry.type
class Customer:
    id: strawberry.ID
    name: str
    phone: str = strawberry.field(description="E.164, e.g. +12125550100.")
    email: str | None
    customer_code: str | None
    status: records.CustomerStatus
    version: int = strawberry.field(description="Pass as expectedVersion to customerUpdate.")
    home_store_id: strawberry.ID | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_record(cls, record: records.CustomerRecord) -> Customer:
        return cls(
            id=strawberry.ID(str(record.id)),
            name=record.name,
            phone=record.phone,
            email=record.email,
            customer_code=record.customer_code,
            status=record.status,
            version=record.version,
            home_store_id=strawberry.ID(str(record.home_store_id))
            if record.home_store_id
            else None,
            created_at=record.created_at,
            updated_at=record.updated_at,
        )

    @strawberry.field
    async def marketing_consent(self, info: strawberry.Info[Context, None]) -> MarketingConsent:
        found = await info.context.loaders.consents.load(uuid.UUID(self.id))
        return MarketingConsent(
            email=ChannelConsent.from_record(found.get(records.MarketingChannel.EMAIL)),
            sms=ChannelConsent.from_record(found.get(records.MarketingChannel.SMS)),
        )

    # Nullable, unlike DESIGN.md's sketch: a caller without AUDIT_VIEW still gets the
    # customer, with only this field refused (a non-null field would null the parent).
    groups: list[Annotated[CustomerGroup, strawberry.lazy("app.schema.group")]] = strawberry.field(
        resolver=_groups
    )
    audit_trail: Connection[AuditEntry] | None = strawberry.field(
        resolver=_audit_trail,
        description="Every change to this customer, newest first; null without AUDIT_VIEW.",
        extensions=[Requires(Permission.AUDIT_VIEW)],
    )


CustomerConnection = Connection[Customer]


@strawberry.input
class CustomerFilter:
    status: records.CustomerStatus | None = None
    home_store_id: strawberry.ID | None = None
    group_id: strawberry.ID | None = None

    def to_query(self, search: str | None) -> CustomerQuery:
        return CustomerQuery(
            search=search,
            status=self.status,
            home_store_id=parse_id(self.home_store_id) if self.home_store_id else None,
            group_id=parse_id(self.group_id) if self.group_id else None,
        )


@strawberry.input
class CustomerCreateInput:
    name: str
    phone: str
    email: str | None = None
    customer_code: str | None = None
    home_store_id: strawberry.ID | None = None
    idempotency_key: str | None = strawberry.field(
        default=None,
        description="A till's retry with the same key gets the first result back.",
    )

    def to_command(self) -> CustomerCreate:
        return CustomerCreate(
            name=self.name,
            phone=self.phone,
            email=self.email,
            customer_code=self.customer_code,
            home_store_id=parse_id(self.home_store_id) if self.home_store_id else None,
            idempotency_key=self.idempotency_key,
        )


def _given(value: Any) -> Any:
    return DOMAIN_UNSET if value is strawberry.UNSET else value


@strawberry.input(description="Only the fields given change; null clears an optional field.")
class CustomerUpdateInput:
    expected_version: int
    name: str | None = strawberry.UNSET
    phone: str | None = strawberry.UNSET
    email: str | None = strawberry.UNSET
    customer_code: str | None = strawberry.UNSET
    home_store_id: strawberry.ID | None = strawberry.UNSET

    def to_command(self) -> CustomerUpdate:
        store = _given(self.home_store_id)
        return CustomerUpdate(
            expected_version=self.expected_version,
            name=_given(self.name),
            phone=_given(self.phone),
            email=_given(self.email),
            customer_code=_given(self.customer_code),
            home_store_id=parse_id(store) if isinstance(store, str) else store,
        )


@strawberry.type
class CustomerPayload:
    customer: Customer | None
    errors: list[UserError]

    @classmethod
    def from_result(cls, result: Result[records.CustomerRecord]) -> CustomerPayload:
        customer = Customer.from_record(result.value) if result.value else None
        return cls(customer=customer, errors=user_errors(result.errors))

    @classmethod
    def from_errors(cls, errors: list[DomainUserError]) -> CustomerPayload:
        return cls(customer=None, errors=user_errors(errors))


@strawberry.type
class CustomerDeletePayload:
    deleted_id: strawberry.ID | None
    errors: list[UserError]

    @classmethod
    def from_errors(cls, errors: list[DomainUserError]) -> CustomerDeletePayload:
        return cls(deleted_id=None, errors=user_errors(errors))
