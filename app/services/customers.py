"""Customer rules: create (normalised, deduplicated, idempotent), versioned update, delete."""

from __future__ import annotations

import enum
import uuid
from dataclasses import asdict, dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from app.db.repositories.audit import AuditRepository
from app.db.repositories.consents import ConsentRepository
from app.db.repositories.customer_screen import CustomerScreenRepository
from app.db.repositories.customers import (
    CustomerFilterSpec,
    CustomerRepository,
    CustomerSearch,
)
from app.domain.customer_facts import CustomerFacts
from app.domain.errors import ErrorCode, Rejected, UserError, reject
from app.domain.permissions import Permission
from app.domain.records import (
    Actor,
    AddressRecord,
    AuditRecord,
    ConsentChangeRecord,
    ConsentPlace,
    ConsentRecord,
    ConsentSource,
    ConsentState,
    ContactChannel,
    CustomerRecord,
    CustomerStatus,
    Gender,
    MarketingChannel,
    NotificationScenario,
    Page,
    PhoneRecord,
    SearchFirst,
    TokenKind,
)
from app.domain.sales import SaleRecord
from app.domain.segments import CustomerSegment
from app.domain.values import UNSET, Unset
from app.services.business import cached_business_settings
from app.services.customer_fields import FIELD_CHECKS, INPUT_NAMES, check_fields, check_profile
from app.services.customer_lookup import live_customer
from app.services.idempotency import Operation, earlier_result, remember, request_hash
from app.services.lookup_limit import LookupLimit
from app.services.loyalty import card_key
from app.services.notifications import queue_registration
from app.services.phones import (
    InvalidPhone,
    is_phone_like,
    last_digits,
    normalize_phone,
    phone_search_prefixes,
    whole_number,
)
from app.services.sales import SaleService, require_sale
from app.services.text import email_key, name_key
from app.services.unit_of_work import Result, Transactions, UnitOfWork
from app.settings import Settings

# A shorter word is a name's beginning only: two letters would match half the emails.
EMAIL_PREFIX_MIN = 3


@dataclass(frozen=True, slots=True)
class AddressDraft:
    line1: str
    line2: str | None = None
    city: str | None = None
    region: str | None = None
    postal_code: str | None = None
    country: str | None = None
    label: str | None = None


@dataclass(frozen=True, slots=True)
class PhoneDraft:
    number: str
    label: str | None = None


@dataclass(frozen=True, slots=True)
class CustomerCreate:
    """A new customer as typed; field names match ``customer_fields.FIELD_CHECKS``."""

    phone: str
    name: str | None = None
    email: str | None = None
    customer_code: str | None = None
    home_store_id: uuid.UUID | None = None
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
    # Seed 004: no points and no card discount for them (app/domain/loyalty.py).
    loyalty_opt_out: bool = False
    addresses: tuple[AddressDraft, ...] = ()
    phones: tuple[PhoneDraft, ...] = ()
    # Seed 003: registration may subscribe marketing at once, with the customer's consent.
    email_marketing: bool = False
    sms_marketing: bool = False
    idempotency_key: str | None = None
    # Register at checkout (seed 003): put the new customer on this open sale at once.
    sale_id: uuid.UUID | None = None


@dataclass(frozen=True, slots=True)
class Registered:
    """A new customer, and the open sale they were put on if registered at checkout."""

    customer: CustomerRecord
    sale: SaleRecord | None = None


@dataclass(frozen=True, slots=True)
class CustomerUpdate:
    """Only the fields given change; ``None`` clears an optional field."""

    expected_version: int
    name: str | Unset | None = UNSET
    phone: str | Unset | None = UNSET
    email: str | Unset | None = UNSET
    customer_code: str | Unset | None = UNSET
    home_store_id: uuid.UUID | Unset | None = UNSET
    first_name: str | Unset | None = UNSET
    last_name: str | Unset | None = UNSET
    birth_date: date | Unset | None = UNSET
    gender: Gender | Unset | None = UNSET
    pan: str | Unset | None = UNSET
    gstin: str | Unset | None = UNSET
    state_code: str | Unset | None = UNSET
    reg_no: str | Unset | None = UNSET
    vat_no: str | Unset | None = UNSET
    allow_credit_sale: bool | Unset | None = UNSET
    credit_limit: Decimal | Unset | None = UNSET
    preferred_channel: ContactChannel | Unset | None = UNSET
    willing_to_receive: bool | Unset | None = UNSET
    remarks: str | Unset | None = UNSET
    loyalty_opt_out: bool | Unset | None = UNSET
    addresses: tuple[AddressDraft, ...] | Unset | None = UNSET
    phones: tuple[PhoneDraft, ...] | Unset | None = UNSET


@dataclass(frozen=True, slots=True)
class CustomerQuery:
    search: str | None = None
    status: CustomerStatus | None = None
    home_store_id: uuid.UUID | None = None
    group_id: uuid.UUID | None = None
    segment: CustomerSegment | None = None


# Exact types that are JSON as they are: most of a snapshot, so checked first (an import
# snapshots 100k customers). A StrEnum member is not one of them: its type is its enum.
_PLAIN = frozenset({str, bool, int, type(None)})


def _jsonable(value: Any) -> Any:
    if type(value) in _PLAIN:
        return value
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, date | Decimal | uuid.UUID):
        return str(value)
    if isinstance(value, tuple):
        return [{k: v for k, v in asdict(item).items() if v is not None} for item in value]
    return value


def _snapshot(customer: CustomerRecord, profile: Profile) -> dict[str, Any]:
    """The audited view of a customer: every field, in API names, JSON-ready."""
    values = {f: getattr(customer, f) for f in SCALAR_FIELDS}
    return snapshot_of(values, profile, customer.status, customer.home_store_id)


def snapshot_of(
    values: dict[str, Any],
    profile: Profile,
    status: CustomerStatus,
    home_store_id: uuid.UUID | None,
) -> dict[str, Any]:
    """``_snapshot`` from a customer's field values (``SCALAR_FIELDS`` at least), for an
    import that has them without a record."""
    snapshot = {api: _jsonable(values[k]) for k, api in _API_NAMES}
    snapshot["addresses"] = _jsonable(profile.addresses)
    snapshot["otherPhones"] = _jsonable(profile.phones)
    snapshot["status"] = status.value
    snapshot["homeStoreId"] = _jsonable(home_store_id)
    return snapshot


# Fields stored on the customer row (the lists live in their own tables).
SCALAR_FIELDS = tuple(k for k in FIELD_CHECKS if k not in ("addresses", "phones"))
_API_NAMES = tuple((k, INPUT_NAMES.get(k, k)) for k in SCALAR_FIELDS)


@dataclass(frozen=True, slots=True)
class Profile:
    """The list-valued parts of a profile."""

    addresses: tuple[AddressRecord, ...] = ()
    phones: tuple[PhoneRecord, ...] = ()

    def fields(self) -> dict[str, Any]:
        return {"addresses": self.addresses, "phones": self.phones}


def check_new(cmd: CustomerCreate, region: str) -> dict[str, Any]:
    """The checked fields of a new customer: create, offline sync and import share these rules."""
    raw = {key: getattr(cmd, key) for key in FIELD_CHECKS}
    if not (cmd.name or "").strip():
        # Seed 001: a till may take only a first name, a last name and a number.
        parts = [p.strip() for p in (cmd.first_name, cmd.last_name) if p and p.strip()]
        raw["name"] = " ".join(parts) or None
    fields = check_fields(raw, region)
    CustomerService._own_numbers_distinct(fields)
    fields.update(check_profile(fields, changed=set(fields)))
    if cmd.email_marketing and not fields["email"]:
        raise reject(
            ErrorCode.CONSENT_CHANNEL_MISSING,
            "Email marketing needs an email address.",
            "input",
            "emailMarketing",
        )
    return fields


async def lock_numbers(uow: UnitOfWork, cmd: CustomerCreate, region: str) -> None:
    """Lock the numbers a new customer would take, before anything is looked up."""
    numbers = []
    for raw in (cmd.phone, *(p.number for p in cmd.phones)):
        try:
            numbers.append(normalize_phone(raw, region))
        except InvalidPhone:
            continue  # the checks will say so
    await uow.customers.lock_phones(numbers)


def customer_row(values: dict[str, Any], now: datetime) -> dict[str, Any]:
    """Checked fields as customer-row columns, with the search keys they imply."""
    row = {
        k: (v.value if isinstance(v, enum.Enum) else v)
        for k, v in values.items()
        if k not in ("addresses", "phones")
    }
    if "name" in row:
        row["name_key"] = name_key(row["name"])
    if "email" in row:
        row["email_key"] = email_key(row["email"]) if row["email"] else None
    row["updated_at"] = now
    return row


def created_snapshot(customer: CustomerRecord, fields: dict[str, Any]) -> dict[str, Any]:
    """The audit trail's view of a new customer, from its checked fields."""
    return _snapshot(customer, Profile(fields["addresses"], fields["phones"]))


def imported_snapshot(
    fields: dict[str, Any], status: CustomerStatus, home_store_id: uuid.UUID | None
) -> dict[str, Any]:
    """``created_snapshot`` of a customer an import creates from checked ``fields``."""
    return snapshot_of(
        fields, Profile(fields["addresses"], fields["phones"]), status, home_store_id
    )


def consent_source(actor: Actor | None) -> ConsentSource:
    """How a consent change came: a till (POS), the online store, or the back office."""
    kind = actor.kind if actor else None
    if kind is TokenKind.DEVICE:
        return ConsentSource.POS
    if kind is TokenKind.CUSTOMER:
        return ConsentSource.ONLINE_STORE
    return ConsentSource.BACK_OFFICE


async def put_consent(
    uow: UnitOfWork,
    customer_id: uuid.UUID,
    channel: MarketingChannel,
    before: ConsentState,
    state: ConsentState,
) -> None:
    """Record a consent change (its history: when, how, by whom, where) and audit it."""
    source = consent_source(uow.actor)
    await uow.consents.put(
        customer_id,
        channel,
        state,
        at=uow.now,
        source=source,
        actor_label=uow.actor_label,
        place=ConsentPlace.of(uow.actor),
    )
    await uow.audit(
        "customer",
        customer_id,
        "consent",
        before={f"consent{channel.value.title()}": before.value},
        after={
            f"consent{channel.value.title()}": state.value,
            "source": source.value,
        },
    )


async def unsubscribe(uow: UnitOfWork, customer_id: uuid.UUID, channel: MarketingChannel) -> None:
    """End a subscription to ``channel``, if there is one (its address is gone)."""
    current = (await uow.consents.for_customers([customer_id])).get(customer_id, {}).get(channel)
    if current and current.state is ConsentState.SUBSCRIBED:
        await put_consent(uow, customer_id, channel, current.state, ConsentState.UNSUBSCRIBED)


class CustomerService:
    def __init__(
        self,
        tx: Transactions,
        settings: Settings,
        actor: Actor | None,
        lookups: LookupLimit | None = None,
    ) -> None:
        self.tx = tx
        self.settings = settings
        self.actor = actor
        # None: lookups are not counted (the system itself, the CLI, tests of other rules).
        self.lookups = lookups

    # -- validation -----------------------------------------------------------------

    async def _check_unique(
        self,
        uow: UnitOfWork,
        fields: dict[str, Any],
        own_id: uuid.UUID | None = None,
    ) -> None:
        """Every number (main or extra) belongs to one customer; so does a customer code."""
        errors = []
        numbers: dict[str, tuple[str, ...]] = {}
        if fields.get("phone") is not None:
            numbers[fields["phone"]] = ("input", "phone")
        for index, extra in enumerate(fields.get("phones") or ()):
            numbers[extra.phone] = ("input", "otherPhones", str(index), "number")
        await uow.customers.lock_phones(list(numbers))
        owners = await uow.customers.owners_of_phones(list(numbers)) if numbers else {}
        for number, field in numbers.items():
            holder = owners.get(number)
            if holder is not None and holder != own_id:
                errors.append(
                    UserError(
                        ErrorCode.PHONE_TAKEN, "Another customer has this phone number.", field
                    )
                )
        code = fields.get("customer_code")
        if code is not None:
            holder = await uow.customers.id_by_code(code)
            if holder is not None and holder != own_id:
                errors.append(
                    UserError(
                        ErrorCode.CUSTOMER_CODE_TAKEN,
                        "Another customer has this customer code.",
                        ("input", "customerCode"),
                    )
                )
        if errors:
            raise Rejected(*errors)

    @staticmethod
    def _own_numbers_distinct(profile: dict[str, Any]) -> None:
        if any(p.phone == profile.get("phone") for p in profile.get("phones") or ()):
            raise reject(
                ErrorCode.DUPLICATE,
                "An extra phone cannot repeat the main phone number.",
                "input",
                "phones",
            )

    async def _require(self, uow: UnitOfWork, customer_id: uuid.UUID) -> CustomerRecord:
        customer = await uow.customers.get(customer_id)
        if customer is None:
            raise reject(ErrorCode.NOT_FOUND, "No such customer.", "id")
        return customer

    async def _require_live(self, uow: UnitOfWork, customer_id: uuid.UUID) -> CustomerRecord:
        """A customer that can still change: not one merged into another."""
        return await live_customer(uow, customer_id, "id")

    async def _profile(self, uow: UnitOfWork, customer_id: uuid.UUID) -> Profile:
        addresses = await uow.customers.addresses_for([customer_id])
        phones = await uow.customers.phones_for([customer_id])
        return Profile(tuple(addresses.get(customer_id, ())), tuple(phones.get(customer_id, ())))

    @staticmethod
    def _row_values(values: dict[str, Any], uow: UnitOfWork) -> dict[str, Any]:
        return customer_row(values, uow.now)

    async def insert_checked(
        self,
        uow: UnitOfWork,
        cmd: CustomerCreate,
        region: str,
        customer_id: uuid.UUID | None = None,
    ) -> CustomerRecord:
        """Check and insert a new customer (create, offline sync and import share this)."""
        fields = check_new(cmd, region)
        await self._check_unique(uow, fields)
        home_store_id = cmd.home_store_id or (self.actor.store_id if self.actor else None)
        if home_store_id is None:
            home_store_id = (await uow.stores.head_office()).id
        elif await uow.stores.get(home_store_id) is None:
            raise reject(ErrorCode.NOT_FOUND, "No such store.", "input", "homeStoreId")
        row = self._row_values(fields, uow)
        if customer_id is not None:
            row["id"] = customer_id  # a till's own id for a customer it created offline
        customer = await uow.customers.insert(
            **row, home_store_id=home_store_id, created_at=uow.now
        )
        await uow.customers.replace_addresses(customer.id, fields["addresses"])
        await uow.customers.replace_phones(customer.id, fields["phones"])
        await uow.audit("customer", customer.id, "create", after=created_snapshot(customer, fields))
        for channel, wanted in (
            (MarketingChannel.EMAIL, cmd.email_marketing),
            (MarketingChannel.SMS, cmd.sms_marketing),
        ):
            if wanted:
                await put_consent(
                    uow, customer.id, channel, ConsentState.NOT_SUBSCRIBED, ConsentState.SUBSCRIBED
                )
        return customer

    # -- commands -------------------------------------------------------------------

    async def create(self, cmd: CustomerCreate) -> Result[CustomerRecord]:
        """Create a customer; a retry with the same idempotency key returns the first result."""
        result = await self.register(cmd)
        return Result(result.value.customer if result.value else None, result.errors)

    async def register(self, cmd: CustomerCreate) -> Result[Registered]:
        """Create a customer and, with ``sale_id``, put them on that open sale re-priced, all
        in one transaction: a sale that cannot take them (not open, another store's, gone)
        leaves no customer behind. A retry with the same idempotency key returns the first
        customer and the sale as it now is."""
        digest = request_hash({k: v for k, v in asdict(cmd).items() if k != "idempotency_key"})

        async def work(uow: UnitOfWork) -> Registered:
            business = await uow.business.get()
            # First: a racing retry waits here, then finds the first call's key below.
            await lock_numbers(uow, cmd, business.default_phone_region)
            earlier = await earlier_result(
                uow,
                Operation.CUSTOMER_CREATE,
                cmd.idempotency_key,
                digest,
                "input",
                "idempotencyKey",
            )
            if earlier is not None:
                customer = await self._require(uow, uuid.UUID(earlier))
                sale = None
                if cmd.sale_id is not None:
                    sale = await require_sale(uow, cmd.sale_id, ("input", "saleId"))
                return Registered(customer, sale)
            customer = await self.insert_checked(uow, cmd, business.default_phone_region)
            sale = None
            if cmd.sale_id is not None:
                sale = await SaleService.put_new_customer_on(
                    uow, business, cmd.sale_id, customer.id, "input", "saleId"
                )
            await remember(
                uow, Operation.CUSTOMER_CREATE, cmd.idempotency_key, digest, str(customer.id)
            )
            # Seed 003: a registered customer is told at once, email preferred, where the
            # business turned the scenario on (seed 000's settings).
            if NotificationScenario.REGISTRATION in business.notification_scenarios:
                await queue_registration(uow, customer, business)
            return Registered(customer, sale)

        return await self.tx.run(self.actor, work)

    async def update(self, customer_id: uuid.UUID, cmd: CustomerUpdate) -> Result[CustomerRecord]:
        """Change the given fields if the caller saw the current version (else VERSION_CONFLICT)."""

        async def work(uow: UnitOfWork) -> CustomerRecord:
            current = await self._require_live(uow, customer_id)
            if current.version != cmd.expected_version:
                raise reject(
                    ErrorCode.VERSION_CONFLICT,
                    f"Changed meanwhile (now version {current.version}); reload and retry.",
                    "input",
                    "expectedVersion",
                )
            region = (await uow.business.get()).default_phone_region
            before_profile = await self._profile(uow, customer_id)
            given = {
                key: getattr(cmd, key)
                for key in FIELD_CHECKS
                if not isinstance(getattr(cmd, key), Unset)
            }
            values = check_fields(given, region)
            if cmd.home_store_id is not UNSET:
                if (
                    cmd.home_store_id is not None
                    and await uow.stores.get(cmd.home_store_id) is None
                ):
                    raise reject(ErrorCode.NOT_FOUND, "No such store.", "input", "homeStoreId")
                values["home_store_id"] = cmd.home_store_id
            saved = {
                **{f: getattr(current, f) for f in SCALAR_FIELDS},
                **before_profile.fields(),
                "home_store_id": current.home_store_id,
            }
            # A till re-sending what it shows is no change: no new version, no feed entry.
            values = {k: v for k, v in values.items() if saved[k] != v}
            profile = {**saved, **values}
            self._own_numbers_distinct(profile)
            values.update(
                {
                    k: v
                    for k, v in check_profile(profile, changed=set(values)).items()
                    if saved[k] != v
                }
            )
            await self._check_unique(uow, values, own_id=customer_id)
            before = _snapshot(current, before_profile)
            if not values:
                return current
            if not await uow.customers.update_if_version(
                customer_id, cmd.expected_version, self._row_values(values, uow)
            ):
                raise reject(
                    ErrorCode.VERSION_CONFLICT,
                    "The customer was changed by someone else; reload and retry.",
                    "input",
                    "expectedVersion",
                )
            if "addresses" in values:
                await uow.customers.replace_addresses(customer_id, values["addresses"])
            if "phones" in values:
                await uow.customers.replace_phones(customer_id, values["phones"])
            updated = await self._require(uow, customer_id)
            after = _snapshot(updated, await self._profile(uow, customer_id))
            await uow.audit_changes("customer", customer_id, "update", before, after)
            # Seed 003: a channel without its address cannot stay subscribed.
            if "email" in values and values["email"] is None:
                await unsubscribe(uow, customer_id, MarketingChannel.EMAIL)
            return updated

        return await self.tx.run(self.actor, work)

    async def set_status(
        self, customer_id: uuid.UUID, status: CustomerStatus
    ) -> Result[CustomerRecord]:
        async def work(uow: UnitOfWork) -> CustomerRecord:
            if status is CustomerStatus.MERGED:
                raise reject(ErrorCode.INVALID, "Use customerMerge to merge customers.", "status")
            current = await self._require_live(uow, customer_id)
            if current.status is status:
                return current
            await uow.customers.update_if_version(
                customer_id,
                current.version,
                {"status": status.value, "updated_at": uow.now},
            )
            await uow.audit(
                "customer",
                customer_id,
                "set_status",
                before={"status": current.status.value},
                after={"status": status.value},
            )
            return await self._require(uow, customer_id)

        return await self.tx.run(self.actor, work)

    async def delete(self, customer_id: uuid.UUID) -> Result[uuid.UUID]:
        """Delete a customer who never bought anything; others are deactivated (seed 002)."""

        async def work(uow: UnitOfWork) -> uuid.UUID:
            current = await self._require_live(uow, customer_id)
            if await uow.customers.has_sales(customer_id):
                raise reject(
                    ErrorCode.CUSTOMER_HAS_TRANSACTIONS,
                    "This customer has sales and cannot be deleted; deactivate them instead.",
                    "id",
                )
            if await uow.customers.has_loyalty_history(customer_id):
                raise reject(
                    ErrorCode.CUSTOMER_HAS_TRANSACTIONS,
                    "This customer has a loyalty card or points history and cannot be"
                    " deleted; deactivate them instead.",
                    "id",
                )
            before = _snapshot(current, await self._profile(uow, customer_id))
            await uow.audit("customer", customer_id, "delete", before=before)
            await uow.customers.delete(customer_id)
            return customer_id

        return await self.tx.run(self.actor, work)

    async def update_consent(
        self, customer_id: uuid.UUID, channel: MarketingChannel, subscribed: bool
    ) -> Result[CustomerRecord]:
        """Subscribe or unsubscribe one channel; a channel needs its address (seed 003)."""

        async def work(uow: UnitOfWork) -> CustomerRecord:
            customer = await self._require_live(uow, customer_id)
            if subscribed and channel is MarketingChannel.EMAIL and not customer.email:
                raise reject(
                    ErrorCode.CONSENT_CHANNEL_MISSING,
                    "Email marketing needs an email address.",
                    "channel",
                )
            if subscribed and channel is MarketingChannel.SMS and not customer.phone:
                raise reject(
                    ErrorCode.CONSENT_CHANNEL_MISSING,
                    "SMS marketing needs a phone number.",
                    "channel",
                )
            current = (
                (await uow.consents.for_customers([customer_id])).get(customer_id, {}).get(channel)
            )
            before = current.state if current else ConsentState.NOT_SUBSCRIBED
            if subscribed:
                state = ConsentState.SUBSCRIBED
            else:
                state = ConsentState.UNSUBSCRIBED if before is ConsentState.SUBSCRIBED else before
            if state is not before:
                await put_consent(uow, customer_id, channel, before, state)
            return customer

        return await self.tx.run(self.actor, work)

    # -- queries --------------------------------------------------------------------

    async def get(self, customer_id: uuid.UUID) -> CustomerRecord | None:
        async with self.tx.db.read() as session:
            return await CustomerRepository(session).get(customer_id)

    async def get_many(self, customer_ids: list[uuid.UUID]) -> dict[uuid.UUID, CustomerRecord]:
        async with self.tx.db.read() as session:
            return await CustomerRepository(session).get_many(customer_ids)

    async def get_with_facts(
        self, customer_id: uuid.UUID
    ) -> tuple[CustomerRecord, CustomerFacts] | None:
        """The customer with their card, points and sales stats: the screen's one statement."""
        async with self.tx.db.read() as session:
            return await CustomerScreenRepository(session).get_with_facts(customer_id)

    async def facts_for(self, customer_ids: list[uuid.UUID]) -> dict[uuid.UUID, CustomerFacts]:
        """Card, points and sales stats of a list of customers in one statement."""
        async with self.tx.db.read() as session:
            return await CustomerScreenRepository(session).facts_for(customer_ids)

    @staticmethod
    def to_search(
        term: str, region: str, *, prefixes: bool = True, first: SearchFirst = SearchFirst.PHONE
    ) -> CustomerSearch:
        """What a typed term may mean: a phone (a whole number in any format, its last 4+
        digits, or with ``prefixes`` its beginning), a name, a code, an email (a whole
        address, or with ``prefixes`` a word's beginning) or a loyalty card number (a card
        number can look like a phone or a name). ``first``: which meaning's matches lead
        the results (seed 000's "Search Mobile Number/Name first").

        ``prefixes`` is False for callers who see numbers masked: a number's beginning,
        typed one more digit at a time, rebuilt a whole number in 26 searches (issue 9);
        so would an email's. Its end they may search: the customer says it aloud, and the
        mask shows the last four digits anyway.
        """
        term = term.strip()
        card = card_key(term)
        contact_first = first is SearchFirst.PHONE
        if "@" in term:
            return CustomerSearch(
                email_key=email_key(term),
                customer_code=term,
                card_number=card,
                contact_first=contact_first,
            )
        if is_phone_like(term):
            whole = whole_number(term, region)
            ending = last_digits(term)
            return CustomerSearch(
                phone_prefixes=phone_search_prefixes(term, region) if prefixes else (),
                phones=(whole,) if whole else (),
                phone_suffix_reversed=ending[::-1] if ending else None,
                customer_code=term,
                card_number=card,
                contact_first=contact_first,
            )
        # One word of three or more letters may also be how an email address begins.
        could_be_email = prefixes and len(term) >= EMAIL_PREFIX_MIN and not term.split()[1:]
        return CustomerSearch(
            name_key=name_key(term) or None,
            customer_code=term,
            card_number=card,
            email_prefix=email_key(term) if could_be_email else None,
            contact_first=contact_first,
        )

    @staticmethod
    def is_contact_lookup(term: str) -> bool:
        """A search for a phone number or an email address, which the lookup limit counts."""
        return "@" in term or is_phone_like(term)

    async def _count_lookup(self, term: str) -> None:
        """Count a phone or email lookup by a caller who sees those masked (LookupLimit)."""
        actor, lookups = self.actor, self.lookups
        if actor is None or lookups is None or actor.can(Permission.CUSTOMER_VIEW_PII):
            return
        if self.is_contact_lookup(term):
            await lookups.count(actor)

    async def search(
        self, query: CustomerQuery, first: int, after: str | None, *, counted: bool = True
    ) -> Page[CustomerRecord]:
        """A page of customers (with their number unless not ``counted``: then ``total``
        is 0); ``Rejected`` TOO_MANY_LOOKUPS for a caller who sees personal data masked
        and looked up more phones or emails than the limit allows."""
        spec = CustomerFilterSpec(
            status=query.status,
            home_store_id=query.home_store_id,
            group_id=query.group_id,
            segment=query.segment,
        )
        term = (query.search or "").strip()
        await self._count_lookup(term)
        sees_pii = self.actor is None or self.actor.can(Permission.CUSTOMER_VIEW_PII)
        search = None
        if term:
            settings = await cached_business_settings(self.tx)
            search = self.to_search(
                term,
                settings.default_phone_region,
                prefixes=sees_pii,
                first=settings.customer_search_first,
            )
        async with self.tx.db.read() as session:
            return await CustomerRepository(session).page(
                search, spec, first, after, counted=counted
            )

    async def addresses(
        self, customer_ids: list[uuid.UUID]
    ) -> dict[uuid.UUID, list[AddressRecord]]:
        async with self.tx.db.read() as session:
            return await CustomerRepository(session).addresses_for(customer_ids)

    async def phones(self, customer_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[PhoneRecord]]:
        async with self.tx.db.read() as session:
            return await CustomerRepository(session).phones_for(customer_ids)

    async def consent_history(
        self, customer_ids: list[uuid.UUID]
    ) -> dict[uuid.UUID, list[ConsentChangeRecord]]:
        async with self.tx.db.read() as session:
            return await ConsentRepository(session).history_for(customer_ids)

    async def consents(
        self, customer_ids: list[uuid.UUID]
    ) -> dict[uuid.UUID, dict[MarketingChannel, ConsentRecord]]:
        async with self.tx.db.read() as session:
            return await ConsentRepository(session).for_customers(customer_ids)

    async def audit_pages(
        self, customer_ids: list[uuid.UUID], first: int, after: str | None
    ) -> dict[uuid.UUID, Page[AuditRecord]]:
        async with self.tx.db.read() as session:
            pages = await AuditRepository(session).pages(
                "customer", [str(i) for i in customer_ids], first, after
            )
        return {uuid.UUID(k): v for k, v in pages.items()}
