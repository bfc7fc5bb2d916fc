"""Customer types, inputs and payloads."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any, cast

import strawberry
from strawberry.scalars import JSON

from app.domain import records
from app.domain.customer_facts import CustomerFacts
from app.domain.errors import UserError as DomainUserError
from app.domain.permissions import Permission
from app.domain.photos import PhotoSize
from app.schema import masks
from app.schema.account import OnlineAccount
from app.schema.appointment import Appointment, AppointmentConnection
from app.schema.discount import CustomerDiscount
from app.schema.errors import UserError, user_errors
from app.schema.ids import parse_id
from app.schema.loyalty import LoyaltyCard, PointsEntry
from app.schema.loyalty_tier import CustomerLoyaltyTier
from app.schema.notification import Notification, NotificationConnection
from app.schema.pagination import DEFAULT_PAGE_SIZE, Connection
from app.schema.permissions import MaskedWithout, Requires
from app.schema.segment import CustomerSegment
from app.services import customer_merge
from app.services.customers import (
    AddressDraft,
    CustomerCreate,
    CustomerQuery,
    CustomerUpdate,
    PhoneDraft,
)
from app.services.sales import sales_summary
from app.services.statutory import GST_STATES
from app.services.unit_of_work import Result

if TYPE_CHECKING:
    from app.schema.context import Context
    from app.schema.group import CustomerGroup
    from app.schema.sale import Sale, SalesHistory

strawberry.enum(records.CustomerStatus)
strawberry.enum(records.MarketingChannel)
strawberry.enum(records.ConsentState)
strawberry.enum(records.ConsentSource)
strawberry.enum(records.Gender)
strawberry.enum(records.ContactChannel)
strawberry.enum(PhotoSize, description="LARGE: 512 px on the longer side; SMALL: 128 px.")

PII = Permission.CUSTOMER_VIEW_PII


def _personal(mask: Callable[[Any], Any], description: str | None = None) -> Any:
    return strawberry.field(description=description, extensions=[MaskedWithout(PII, mask)])


@strawberry.type
class Address:
    label: str | None
    line1: str
    line2: str | None
    city: str | None
    region: str | None
    postal_code: str | None
    country: str | None = strawberry.field(description="ISO 3166-1 alpha-2.")

    @classmethod
    def from_record(cls, record: records.AddressRecord) -> Address:
        return cls(**dataclasses.asdict(record))


@strawberry.type
class CustomerPhone:
    phone: str = _personal(masks.phone, "E.164.")
    label: str | None


async def _addresses(root: Customer, info: strawberry.Info[Context, None]) -> list[Address]:
    found = await info.context.loaders.addresses.load(uuid.UUID(root.id))
    return [Address.from_record(a) for a in found]


async def _other_phones(
    root: Customer, info: strawberry.Info[Context, None]
) -> list[CustomerPhone]:
    found = await info.context.loaders.phones.load(uuid.UUID(root.id))
    return [CustomerPhone(phone=p.phone, label=p.label) for p in found]


@strawberry.type(description="Consent to marketing on one channel; off by default.")
class ChannelConsent:
    state: records.ConsentState
    changed_at: datetime | None
    source: records.ConsentSource | None
    changed_by: str | None
    store_id: strawberry.ID | None = strawberry.field(
        default=None, description="The store where the last change was made (seed 003)."
    )
    till_id: strawberry.ID | None = strawberry.field(
        default=None, description="The till, when a till's token made it."
    )

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
            store_id=_optional_id(record.store_id),
            till_id=_optional_id(record.till_id),
        )


def _optional_id(value: uuid.UUID | None) -> strawberry.ID | None:
    return None if value is None else strawberry.ID(str(value))


@strawberry.type(description="One consent change: from which state to which, when, where, by whom.")
class ConsentChange:
    channel: records.MarketingChannel
    previous_state: records.ConsentState
    state: records.ConsentState
    changed_at: datetime
    source: records.ConsentSource
    changed_by: str
    store_id: strawberry.ID | None = strawberry.field(
        description="The store where it was made: the till's, or the staff user's own store; "
        "none from an unsubscribe link, the online store or a changer bound to no store."
    )
    till_id: strawberry.ID | None = strawberry.field(
        description="The till, when a till's token made it."
    )


async def _consent_history(
    root: MarketingConsent, info: strawberry.Info[Context, None]
) -> list[ConsentChange]:
    found = await info.context.loaders.consent_history.load(root.customer_id)
    return [
        ConsentChange(
            channel=c.channel,
            previous_state=c.previous_state,
            state=c.state,
            changed_at=c.changed_at,
            source=c.source,
            changed_by=c.actor_label,
            store_id=_optional_id(c.store_id),
            till_id=_optional_id(c.till_id),
        )
        for c in found
    ]


@strawberry.type
class MarketingConsent:
    email: ChannelConsent
    sms: ChannelConsent
    customer_id: strawberry.Private[uuid.UUID]

    history: list[ConsentChange] = strawberry.field(
        resolver=_consent_history,
        description="Every change on either channel, newest first (seed 003).",
    )


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
    def masked(cls, record: records.AuditRecord) -> AuditEntry:
        return cls.from_record(
            dataclasses.replace(
                record,
                before=masks.audit_values(record.before),
                after=masks.audit_values(record.after),
            )
        )

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
    actor = info.context.actor
    if actor is not None and actor.can(PII):
        return Connection[AuditEntry].from_page(page, AuditEntry.from_record, after=after)
    # The history holds every value the customer ever had: masked like the fields are.
    return Connection[AuditEntry].from_page(page, AuditEntry.masked, after=after)


async def _notifications(
    root: Customer,
    info: strawberry.Info[Context, None],
    first: int = DEFAULT_PAGE_SIZE,
    after: str | None = None,
) -> NotificationConnection | None:
    key = (uuid.UUID(root.id), first, after)
    page = await info.context.loaders.notification_pages_by_customer_id.load(key)
    return NotificationConnection.from_page(page, Notification.from_record, after=after)


def _groups(
    root: Customer, info: strawberry.Info[Context, None]
) -> list[Annotated[CustomerGroup, strawberry.lazy("app.schema.group")]]:
    # Not async: a preloaded page answers at once; otherwise graphql-core awaits the load.
    if root.preloaded_groups is not None:
        return _group_nodes(root.preloaded_groups)
    return cast(list[CustomerGroup], _load_groups(root, info))


async def _load_groups(root: Customer, info: strawberry.Info[Context, None]) -> list[CustomerGroup]:
    return _group_nodes(await info.context.loaders.groups.load(uuid.UUID(root.id)))


def _group_nodes(found: list[records.CustomerGroupRecord]) -> list[CustomerGroup]:
    from app.schema.group import CustomerGroup  # the group module imports this one

    return [CustomerGroup.from_record(g) for g in found]


async def _discount(
    root: Customer, info: strawberry.Info[Context, None]
) -> CustomerDiscount | None:
    found = await info.context.loaders.discounts.load(uuid.UUID(root.id))
    return CustomerDiscount.from_record(found) if found else None


async def _online_account(
    root: Customer, info: strawberry.Info[Context, None]
) -> OnlineAccount | None:
    found = await info.context.loaders.online_accounts.load(uuid.UUID(root.id))
    return OnlineAccount.from_record(found) if found else None


def _from_facts(
    root: Customer,
    info: strawberry.Info[Context, None],
    node: Callable[[CustomerFacts], Any],
) -> Any:
    """A field of the customer's facts row (card, points, stats, tier): at once when a
    list preloaded the row (not async, as ``_groups``), else through the facts loader."""
    if root.preloaded_facts is not None:
        return node(root.preloaded_facts)
    return _load_from_facts(root, info, node)


async def _load_from_facts(
    root: Customer,
    info: strawberry.Info[Context, None],
    node: Callable[[CustomerFacts], Any],
) -> Any:
    return node(await info.context.loaders.facts.load(uuid.UUID(root.id)))


def _loyalty_card(root: Customer, info: strawberry.Info[Context, None]) -> LoyaltyCard | None:
    return cast(LoyaltyCard | None, _from_facts(root, info, _card_node))


def _card_node(facts: CustomerFacts) -> LoyaltyCard | None:
    return LoyaltyCard.from_record(facts.card) if facts.card else None


def _loyalty_tier(
    root: Customer, info: strawberry.Info[Context, None]
) -> CustomerLoyaltyTier | None:
    return cast(CustomerLoyaltyTier | None, _from_facts(root, info, _tier_node))


def _tier_node(facts: CustomerFacts) -> CustomerLoyaltyTier | None:
    return CustomerLoyaltyTier.from_record(facts.tier) if facts.tier else None


async def _segment(root: Customer, info: strawberry.Info[Context, None]) -> CustomerSegment | None:
    return await info.context.loaders.segments.load(uuid.UUID(root.id))


async def _loyalty_points(root: Customer, info: strawberry.Info[Context, None]) -> int:
    return (await info.context.loaders.facts.load(uuid.UUID(root.id))).points


async def _points_ledger(
    root: Customer,
    info: strawberry.Info[Context, None],
    first: int = DEFAULT_PAGE_SIZE,
    after: str | None = None,
) -> Connection[PointsEntry]:
    page = await info.context.loaders.ledger_pages.load((uuid.UUID(root.id), first, after))
    return Connection[PointsEntry].from_page(page, PointsEntry.from_record, after=after)


async def _sales_history(
    root: Customer, info: strawberry.Info[Context, None]
) -> Annotated[SalesHistory, strawberry.lazy("app.schema.sale")]:
    from app.schema.sale import SalesHistory  # the sale module imports this one

    customer_id = uuid.UUID(root.id)
    facts = await info.context.loaders.facts.load(customer_id)
    return SalesHistory.from_summary(customer_id, sales_summary(facts.stats))


async def _photo_url(
    root: Customer, info: strawberry.Info[Context, None], size: PhotoSize = PhotoSize.LARGE
) -> str | None:
    found = await info.context.loaders.photo_urls.load(uuid.UUID(root.id))
    return found.get(size)


async def _appointments(
    root: Customer,
    info: strawberry.Info[Context, None],
    first: int = DEFAULT_PAGE_SIZE,
    after: str | None = None,
) -> AppointmentConnection:
    page = await info.context.loaders.appointment_pages.load((uuid.UUID(root.id), first, after))
    return AppointmentConnection.from_page(page, Appointment.from_record, after=after)


@strawberry.type(
    description="A customer. Personal fields are masked or null without CUSTOMER_VIEW_PII."
)
class Customer:
    id: strawberry.ID
    name: str
    phone: str = _personal(masks.phone, "E.164, e.g. +12125550100.")
    email: str | None = _personal(masks.email)
    customer_code: str | None
    status: records.CustomerStatus
    version: int = strawberry.field(description="Pass as expectedVersion to customerUpdate.")
    home_store_id: strawberry.ID | None
    created_at: datetime
    updated_at: datetime
    first_name: str | None
    last_name: str | None
    birth_date: date | None = _personal(masks.hidden)
    gender: records.Gender | None
    pan: str | None = _personal(masks.hidden, "Permanent Account Number (India).")
    gstin: str | None = _personal(masks.hidden, "GST Identification Number (India).")
    state: str | None = strawberry.field(description="GST state code, e.g. 27.")
    state_name: str | None
    reg_no: str | None = _personal(masks.hidden, "Company registration number.")
    vat_no: str | None = _personal(masks.hidden)
    allow_credit_sale: bool
    credit_limit: Decimal | None
    preferred_channel: records.ContactChannel | None
    willing_to_receive: bool = strawberry.field(
        description="Willing to receive communications from the shop (seed 001)."
    )
    remarks: str | None
    loyalty_opt_out: bool = strawberry.field(
        description="The customer takes no part in loyalty (seed 004): no points earned or "
        "redeemed, no card discount; their balance and card are kept and shown, and group "
        "discounts and codes still apply."
    )
    merged_into_id: strawberry.ID | None = strawberry.field(
        description="Set when this customer was merged into another: use that one."
    )
    # Filled by a list that loaded them for its whole page at once (``customers``): the
    # fields then resolve as plain attribute reads, not one awaitable per customer.
    preloaded_groups: strawberry.Private[list[records.CustomerGroupRecord] | None] = None
    preloaded_facts: strawberry.Private[CustomerFacts | None] = None

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
            home_store_id=_id(record.home_store_id),
            created_at=record.created_at,
            updated_at=record.updated_at,
            first_name=record.first_name,
            last_name=record.last_name,
            birth_date=record.birth_date,
            gender=record.gender,
            pan=record.pan,
            gstin=record.gstin,
            state=record.state_code,
            state_name=GST_STATES.get(record.state_code) if record.state_code else None,
            reg_no=record.reg_no,
            vat_no=record.vat_no,
            allow_credit_sale=record.allow_credit_sale,
            credit_limit=record.credit_limit,
            preferred_channel=record.preferred_channel,
            willing_to_receive=record.willing_to_receive,
            remarks=record.remarks,
            loyalty_opt_out=record.loyalty_opt_out,
            merged_into_id=_id(record.merged_into_id),
        )

    addresses: list[Address] = strawberry.field(
        resolver=_addresses, extensions=[MaskedWithout(PII, masks.nothing)]
    )
    # A face is personal data: null, like a birth date, for roles without PII.
    photo_url: str | None = strawberry.field(
        resolver=_photo_url,
        description="The profile picture (seed 004) as a JPEG, at a signed path of this "
        "server that works for one to two hours and needs no Authorization header (an "
        "<img> can show it); ask again for a fresh one. Null: no picture, or no "
        "CUSTOMER_VIEW_PII.",
        extensions=[MaskedWithout(PII, masks.hidden)],
    )
    other_phones: list[CustomerPhone] = strawberry.field(resolver=_other_phones)

    @strawberry.field
    async def marketing_consent(self, info: strawberry.Info[Context, None]) -> MarketingConsent:
        found = await info.context.loaders.consents.load(uuid.UUID(self.id))
        return MarketingConsent(
            email=ChannelConsent.from_record(found.get(records.MarketingChannel.EMAIL)),
            sms=ChannelConsent.from_record(found.get(records.MarketingChannel.SMS)),
            customer_id=uuid.UUID(self.id),
        )

    # Nullable, unlike DESIGN.md's sketch: a caller without AUDIT_VIEW still gets the
    # customer, with only this field refused (a non-null field would null the parent).
    groups: list[Annotated[CustomerGroup, strawberry.lazy("app.schema.group")]] = strawberry.field(
        resolver=_groups
    )
    discount: CustomerDiscount | None = strawberry.field(
        resolver=_discount,
        description="The discount code that applies now: null when none, expired or inactive.",
    )
    loyalty_card: LoyaltyCard | None = strawberry.field(
        resolver=_loyalty_card, description="The working card; null when none was issued."
    )
    loyalty_points: int = strawberry.field(resolver=_loyalty_points, description="The balance.")
    # Not personal data: shown like the card, to whoever sees the customer.
    loyalty_tier: CustomerLoyaltyTier | None = strawberry.field(
        resolver=_loyalty_tier,
        description="The tier held now (seed 003); null: none. Set at a sale's completion "
        "and re-evaluated nightly.",
    )
    segment: CustomerSegment | None = strawberry.field(
        resolver=_segment,
        description="Null: never bought. Set at once by a sale, refreshed nightly.",
    )
    points_ledger: Connection[PointsEntry] = strawberry.field(
        resolver=_points_ledger, description="Every movement of points, newest first."
    )
    # Seed 004: the customer screen shows the appointment history beside sales history.
    sales_history: Annotated[SalesHistory, strawberry.lazy("app.schema.sale")] = strawberry.field(
        resolver=_sales_history,
        description="Visits, spend, top products and the sales themselves (seeds 003, 004).",
    )
    appointments: AppointmentConnection = strawberry.field(
        resolver=_appointments, description="Every booking, newest start first (seed 004)."
    )
    audit_trail: Connection[AuditEntry] | None = strawberry.field(
        resolver=_audit_trail,
        description="Every change to this customer, newest first; null without AUDIT_VIEW.",
        extensions=[Requires(Permission.AUDIT_VIEW)],
    )
    online_account: OnlineAccount | None = strawberry.field(
        resolver=_online_account,
        description="The online-store sign-in (seed 003); null: never invited.",
    )
    # AUDIT_VIEW, nullable for the same reason as auditTrail: what the shop sent a
    # customer and how it went is part of the record of what happened to them.
    notifications: NotificationConnection | None = strawberry.field(
        resolver=_notifications,
        description="Emails and SMS sent or meant for this customer, newest first; "
        "null without AUDIT_VIEW.",
        extensions=[Requires(Permission.AUDIT_VIEW)],
    )


def _id(value: uuid.UUID | None) -> strawberry.ID | None:
    return strawberry.ID(str(value)) if value else None


CustomerConnection = Connection[Customer]


@strawberry.input
class CustomerFilter:
    status: records.CustomerStatus | None = None
    home_store_id: strawberry.ID | None = None
    group_id: strawberry.ID | None = None
    segment: CustomerSegment | None = None

    def to_query(self, search: str | None) -> CustomerQuery:
        return CustomerQuery(
            search=search,
            status=self.status,
            home_store_id=parse_id(self.home_store_id) if self.home_store_id else None,
            group_id=parse_id(self.group_id) if self.group_id else None,
            segment=self.segment,
        )


@strawberry.input
class AddressInput:
    line1: str
    line2: str | None = None
    city: str | None = None
    region: str | None = None
    postal_code: str | None = None
    country: str | None = strawberry.field(default=None, description="ISO 3166-1 alpha-2.")
    label: str | None = strawberry.field(default=None, description="e.g. Home, Work.")

    def to_draft(self) -> AddressDraft:
        return AddressDraft(**{f.name: getattr(self, f.name) for f in dataclasses.fields(self)})


@strawberry.input
class PhoneInput:
    number: str = strawberry.field(description="Any format; stored as E.164.")
    label: str | None = None


# The profile fields both inputs share, mapped to the service's field names.
_PROFILE_FIELDS = {
    "name": "name",
    "phone": "phone",
    "email": "email",
    "customer_code": "customer_code",
    "first_name": "first_name",
    "last_name": "last_name",
    "birth_date": "birth_date",
    "gender": "gender",
    "pan": "pan",
    "gstin": "gstin",
    "state": "state_code",
    "reg_no": "reg_no",
    "vat_no": "vat_no",
    "allow_credit_sale": "allow_credit_sale",
    "credit_limit": "credit_limit",
    "preferred_channel": "preferred_channel",
    "willing_to_receive": "willing_to_receive",
    "remarks": "remarks",
    "loyalty_opt_out": "loyalty_opt_out",
}


def _profile(source: Any, given: Callable[[Any], bool]) -> dict[str, Any]:
    values = {
        target: getattr(source, name)
        for name, target in _PROFILE_FIELDS.items()
        if given(getattr(source, name))
    }
    if given(source.addresses):
        values["addresses"] = (
            None if source.addresses is None else tuple(a.to_draft() for a in source.addresses)
        )
    if given(source.other_phones):
        values["phones"] = (
            None
            if source.other_phones is None
            else tuple(PhoneDraft(p.number, p.label) for p in source.other_phones)
        )
    if given(source.home_store_id):
        store = source.home_store_id
        values["home_store_id"] = parse_id(store) if store is not None else None
    return values


@strawberry.input(description="A name, or a first and/or last name, and a phone are required.")
class CustomerCreateInput:
    phone: str
    name: str | None = None
    email: str | None = None
    customer_code: str | None = None
    home_store_id: strawberry.ID | None = None
    first_name: str | None = None
    last_name: str | None = None
    birth_date: date | None = None
    gender: records.Gender | None = None
    pan: str | None = None
    gstin: str | None = None
    state: str | None = strawberry.field(default=None, description="GST state code or name.")
    reg_no: str | None = None
    vat_no: str | None = None
    allow_credit_sale: bool = False
    credit_limit: Decimal | None = strawberry.field(
        default=None, description="Required when allowCreditSale is true."
    )
    preferred_channel: records.ContactChannel | None = None
    willing_to_receive: bool = False
    remarks: str | None = None
    loyalty_opt_out: bool = strawberry.field(
        default=False, description="No points and no card discount for this customer."
    )
    addresses: list[AddressInput] | None = None
    other_phones: list[PhoneInput] | None = None
    email_marketing: bool = strawberry.field(
        default=False, description="Subscribe to marketing email now (needs an email)."
    )
    sms_marketing: bool = strawberry.field(
        default=False, description="Subscribe to marketing SMS now; off by default (seed 003)."
    )
    idempotency_key: str | None = strawberry.field(
        default=None,
        description="A till's retry with the same key gets the first result back.",
    )
    sale_id: strawberry.ID | None = strawberry.field(
        default=None,
        description="Register at checkout (seed 003): put the new customer on this open sale "
        "and re-price it, all or nothing; needs SALE_CREATE too. The payload's sale shows it.",
    )

    def to_command(self) -> CustomerCreate:
        values = _profile(self, lambda value: value is not None)
        return CustomerCreate(
            **values,
            email_marketing=self.email_marketing,
            sms_marketing=self.sms_marketing,
            idempotency_key=self.idempotency_key,
            sale_id=parse_id(self.sale_id) if self.sale_id is not None else None,
        )


@strawberry.input(description="Only the fields given change; null clears an optional field.")
class CustomerUpdateInput:
    expected_version: int
    name: str | None = strawberry.UNSET
    phone: str | None = strawberry.UNSET
    email: str | None = strawberry.UNSET
    customer_code: str | None = strawberry.UNSET
    home_store_id: strawberry.ID | None = strawberry.UNSET
    first_name: str | None = strawberry.UNSET
    last_name: str | None = strawberry.UNSET
    birth_date: date | None = strawberry.UNSET
    gender: records.Gender | None = strawberry.UNSET
    pan: str | None = strawberry.UNSET
    gstin: str | None = strawberry.UNSET
    state: str | None = strawberry.UNSET
    reg_no: str | None = strawberry.UNSET
    vat_no: str | None = strawberry.UNSET
    allow_credit_sale: bool | None = strawberry.UNSET
    credit_limit: Decimal | None = strawberry.UNSET
    preferred_channel: records.ContactChannel | None = strawberry.UNSET
    willing_to_receive: bool | None = strawberry.UNSET
    remarks: str | None = strawberry.UNSET
    loyalty_opt_out: bool | None = strawberry.UNSET
    addresses: list[AddressInput] | None = strawberry.field(
        default=strawberry.UNSET, description="Replaces the whole list."
    )
    other_phones: list[PhoneInput] | None = strawberry.field(
        default=strawberry.UNSET, description="Replaces the whole list."
    )

    def to_command(self) -> CustomerUpdate:
        values = _profile(self, lambda value: value is not strawberry.UNSET)
        return CustomerUpdate(expected_version=self.expected_version, **values)


strawberry.enum(customer_merge.DuplicateReason)


@strawberry.type(description="Another customer who is likely the same person, and why.")
class DuplicateCandidate:
    customer: Customer
    reasons: list[customer_merge.DuplicateReason]

    @classmethod
    def from_duplicate(cls, duplicate: customer_merge.Duplicate) -> DuplicateCandidate:
        return cls(
            customer=Customer.from_record(duplicate.customer), reasons=list(duplicate.reasons)
        )


@strawberry.type
class CustomerPayload:
    customer: Customer | None
    errors: list[UserError]
    duplicates: list[DuplicateCandidate] = strawberry.field(
        default_factory=list,
        description="On customerCreate: customers who are likely the same person. "
        "The customer was created; merge them if they are (customerMerge).",
    )
    sale: Annotated[Sale, strawberry.lazy("app.schema.sale")] | None = strawberry.field(
        default=None,
        description="On customerCreate with saleId: the sale, with the new customer on it.",
    )

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
