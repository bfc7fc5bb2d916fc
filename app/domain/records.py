"""Immutable records that services hand to the API layer (never ORM rows)."""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Generic, TypeVar

from app.domain.permissions import Permission
from app.domain.segments import SegmentRules


class CustomerStatus(enum.StrEnum):
    ACTIVE = "ACTIVE"
    INACTIVE = "INACTIVE"
    # Folded into another customer (merged_into_id); kept only as a pointer.
    MERGED = "MERGED"


class MarketingChannel(enum.StrEnum):
    EMAIL = "EMAIL"
    SMS = "SMS"


class ConsentState(enum.StrEnum):
    NOT_SUBSCRIBED = "NOT_SUBSCRIBED"
    SUBSCRIBED = "SUBSCRIBED"
    UNSUBSCRIBED = "UNSUBSCRIBED"


class ConsentSource(enum.StrEnum):
    POS = "POS"
    BACK_OFFICE = "BACK_OFFICE"
    IMPORT = "IMPORT"
    # The customer, signed in to the online store (customerMeConsentUpdate).
    ONLINE_STORE = "ONLINE_STORE"
    # The link in a marketing message (issue 10 §4): the customer's own act, no staff.
    UNSUBSCRIBE_LINK = "UNSUBSCRIBE_LINK"


class Gender(enum.StrEnum):
    FEMALE = "FEMALE"
    MALE = "MALE"
    OTHER = "OTHER"
    UNDISCLOSED = "UNDISCLOSED"


class ContactChannel(enum.StrEnum):
    """How a customer prefers to be contacted (seed 001's "preferred mode of communication")."""

    EMAIL = "EMAIL"
    SMS = "SMS"
    PHONE_CALL = "PHONE_CALL"
    POST = "POST"


class TokenKind(enum.StrEnum):
    SESSION = "SESSION"
    DEVICE = "DEVICE"
    # A customer signed in to the online store (issue 10 §3). Such an actor only ever
    # reaches the customer's own profile through OnlineAccountService: it is never the
    # context's staff actor, so no staff operation sees it.
    CUSTOMER = "CUSTOMER"


@dataclass(frozen=True, slots=True)
class Actor:
    """Who is calling: a logged-in staff user or a till's device token."""

    token_id: uuid.UUID
    kind: TokenKind
    permissions: frozenset[Permission]
    store_id: uuid.UUID | None
    staff_user_id: uuid.UUID | None = None
    till_id: uuid.UUID | None = None
    label: str = ""

    def can(self, permission: Permission) -> bool:
        return permission in self.permissions

    @property
    def caller_key(self) -> str:
        """The till or staff user behind the token: idempotency keys and lookup counts are
        theirs, so logging in again neither loses a key nor restarts a count."""
        return str(self.till_id or self.staff_user_id or self.token_id)

    @property
    def bound_store_id(self) -> uuid.UUID | None:
        """The one store this caller may act at, or None for a chain-wide caller.

        A till is bound to its store. A staff user is bound to a home store unless the
        role holds STORE_ALL; a user with no home store is chain-wide, so giving a user
        no store needs STORE_ALL itself (see StaffService).
        """
        if self.kind is TokenKind.DEVICE:
            return self.store_id
        if self.store_id is not None and not self.can(Permission.STORE_ALL):
            return self.store_id
        return None


@dataclass(frozen=True, slots=True)
class StoreRecord:
    id: uuid.UUID
    code: str
    name: str
    is_head_office: bool


@dataclass(frozen=True, slots=True)
class TillRecord:
    id: uuid.UUID
    store_id: uuid.UUID
    name: str


@dataclass(frozen=True, slots=True)
class RoleRecord:
    id: uuid.UUID
    name: str
    permissions: tuple[Permission, ...]


@dataclass(frozen=True, slots=True)
class SessionRecord:
    """One live login session of a staff user (never its token, only its id)."""

    id: uuid.UUID
    created_at: datetime
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class StaffUserRecord:
    id: uuid.UUID
    username: str
    role_id: uuid.UUID
    store_id: uuid.UUID | None
    is_active: bool


@dataclass(frozen=True, slots=True)
class CustomerRecord:
    id: uuid.UUID
    name: str
    phone: str
    email: str | None
    customer_code: str | None
    status: CustomerStatus
    version: int
    home_store_id: uuid.UUID | None
    created_at: datetime
    updated_at: datetime
    first_name: str | None = None
    last_name: str | None = None
    birth_date: date | None = None
    gender: Gender | None = None
    pan: str | None = None
    gstin: str | None = None
    state_code: str | None = None
    reg_no: str | None = None
    vat_no: str | None = None
    allow_credit_sale: bool = False
    credit_limit: Decimal | None = None
    preferred_channel: ContactChannel | None = None
    willing_to_receive: bool = False
    remarks: str | None = None
    merged_into_id: uuid.UUID | None = None
    # No points, no card discount for this customer (seed 004): domain/loyalty.py.
    loyalty_opt_out: bool = False


@dataclass(frozen=True, slots=True)
class AddressRecord:
    line1: str
    line2: str | None = None
    city: str | None = None
    region: str | None = None
    postal_code: str | None = None
    country: str | None = None
    label: str | None = None


@dataclass(frozen=True, slots=True)
class PhoneRecord:
    phone: str
    label: str | None = None


class SearchFirst(enum.StrEnum):
    PHONE = "PHONE"
    NAME = "NAME"


class NotificationScenario(enum.StrEnum):
    """Why a message goes to a customer; each is switched on per channel (issue 10 §3)."""

    # Service messages: sent to the addresses the customer gave, needing no marketing consent.
    REGISTRATION = "REGISTRATION"
    UNSUBSCRIBE = "UNSUBSCRIBE"
    PASSWORD_RESET = "PASSWORD_RESET"  # noqa: S105 (a scenario name, not a password)
    # Promotions and offers (seed 001 "willing to receive"): only to subscribers.
    MARKETING = "MARKETING"


class AttemptOutcome(enum.StrEnum):
    """How one hand-over of a notification to a gateway ended (issue 10 §1)."""

    SENT = "SENT"
    # Worth another try later: a timeout, a refused connection, SMTP 4xx, HTTP 5xx or 429.
    TRANSIENT = "TRANSIENT"
    # Retrying cannot help: SMTP 5xx on the recipient, HTTP 4xx other than 429.
    PERMANENT = "PERMANENT"


@dataclass(frozen=True, slots=True)
class BusinessSettingsRecord:
    customer_search_first: SearchFirst
    default_phone_region: str
    points_per_currency_unit: Decimal
    point_value: Decimal
    # The scenarios switched on for each channel (seed 003: SMS ones cost credits).
    email_scenarios: frozenset[NotificationScenario]
    sms_scenarios: frozenset[NotificationScenario]
    updated_at: datetime
    # Earned points expire after this many days; None: never.
    points_validity_days: int | None = None
    # Warn when available SMS credits fall below this (issue 10 §2); 0: never.
    sms_credit_warning_threshold: int = 0
    # The fill rate reorder suggestions plan for (issue 11 §5).
    forecast_service_level: float = 0.95
    segment_rules: SegmentRules = field(default_factory=SegmentRules)
    # Seed 004 "Enable loyalty function": see app/domain/loyalty.py loyalty_active.
    loyalty_enabled: bool = True

    @property
    def notification_scenarios(self) -> frozenset[NotificationScenario]:
        """The scenarios on in at least one channel."""
        return self.email_scenarios | self.sms_scenarios

    def scenario_on(self, scenario: NotificationScenario, channel: MarketingChannel) -> bool:
        on = self.email_scenarios if channel is MarketingChannel.EMAIL else self.sms_scenarios
        return scenario in on


@dataclass(frozen=True, slots=True)
class CustomerGroupRecord:
    id: uuid.UUID
    name: str
    note: str | None
    discount_percent: Decimal | None
    member_count: int = 0


@dataclass(frozen=True, slots=True)
class ConsentRecord:
    channel: MarketingChannel
    state: ConsentState
    changed_at: datetime | None = None
    source: ConsentSource | None = None
    actor_label: str | None = None
    store_id: uuid.UUID | None = None
    till_id: uuid.UUID | None = None


@dataclass(frozen=True, slots=True)
class ConsentChangeRecord:
    channel: MarketingChannel
    previous_state: ConsentState
    state: ConsentState
    changed_at: datetime
    source: ConsentSource
    actor_label: str
    store_id: uuid.UUID | None = None
    till_id: uuid.UUID | None = None


@dataclass(frozen=True, slots=True)
class ConsentPlace:
    """Where a consent change was made: the caller's store and till (none for a link or
    the online store)."""

    store_id: uuid.UUID | None = None
    till_id: uuid.UUID | None = None

    @classmethod
    def of(cls, actor: Actor | None) -> ConsentPlace:
        # A till's token names its store and till; a staff session its store, if bound to one.
        return cls(actor.store_id, actor.till_id) if actor else cls()


@dataclass(frozen=True, slots=True)
class AuditRecord:
    id: int
    entity_type: str
    entity_id: str
    action: str
    actor_label: str
    at: datetime
    before: dict[str, Any] | None
    after: dict[str, Any] | None


T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a keyset-paged list; cursors are opaque strings."""

    items: list[tuple[str, T]]
    has_next: bool
    total: int


@dataclass(frozen=True, slots=True)
class JobRunRecord:
    """One run of a scheduled job, for operators (issue 11 §1)."""

    id: uuid.UUID
    job_name: str
    scheduled_for: datetime
    started_at: datetime
    finished_at: datetime | None
    rows_touched: int | None
    error: str | None
    result: dict[str, Any] | None


@dataclass(frozen=True, slots=True)
class DiscountCodeRecord:
    id: uuid.UUID
    code: str
    percent: Decimal
    description: str | None
    active: bool
    created_at: datetime


@dataclass(frozen=True, slots=True)
class CustomerDiscountRecord:
    """A customer's discount code as assigned; ``valid_at`` says whether it applies."""

    customer_id: uuid.UUID
    discount_code_id: uuid.UUID
    code: str
    percent: Decimal
    description: str | None
    active: bool
    expires_at: datetime | None
    assigned_at: datetime
    assigned_by: str

    def valid_at(self, at: datetime) -> bool:
        # Valid up to, not at, its expiry: the expiry job resets rows with expires_at <= now.
        return self.active and (self.expires_at is None or self.expires_at > at)
