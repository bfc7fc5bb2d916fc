"""Customer rules: create (normalised, deduplicated, idempotent), versioned update, delete."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from email_validator import EmailNotValidError, validate_email

from app.db.repositories.audit import AuditRepository
from app.db.repositories.business import BusinessSettingsRepository
from app.db.repositories.consents import ConsentRepository
from app.db.repositories.customers import (
    CustomerFilterSpec,
    CustomerRepository,
    CustomerSearch,
)
from app.domain.errors import ErrorCode, Rejected, UserError, reject
from app.domain.records import (
    Actor,
    AuditRecord,
    ConsentRecord,
    ConsentSource,
    ConsentState,
    CustomerRecord,
    CustomerStatus,
    MarketingChannel,
    NotificationScenario,
    Page,
    TokenKind,
)
from app.domain.values import UNSET, Unset
from app.services.checks import required_text
from app.services.phones import (
    InvalidPhone,
    is_phone_like,
    normalize_phone,
    phone_search_prefixes,
)
from app.services.text import email_key, name_key
from app.services.unit_of_work import Result, Transactions, UnitOfWork
from app.settings import Settings

NAME_MAX = 200
CODE_MAX = 64


@dataclass(frozen=True, slots=True)
class CustomerCreate:
    name: str
    phone: str
    email: str | None = None
    customer_code: str | None = None
    home_store_id: uuid.UUID | None = None
    idempotency_key: str | None = None


@dataclass(frozen=True, slots=True)
class CustomerUpdate:
    expected_version: int
    name: str | Unset = UNSET
    phone: str | Unset = UNSET
    email: str | Unset | None = UNSET
    customer_code: str | Unset | None = UNSET
    home_store_id: uuid.UUID | Unset | None = UNSET


@dataclass(frozen=True, slots=True)
class CustomerQuery:
    search: str | None = None
    status: CustomerStatus | None = None
    home_store_id: uuid.UUID | None = None
    group_id: uuid.UUID | None = None


def _collect(checks: dict[str, Callable[[], Any]]) -> dict[str, Any]:
    """Run every field check and report all failures at once, not just the first."""
    values: dict[str, Any] = {}
    errors: list[UserError] = []
    for key, check in checks.items():
        try:
            values[key] = check()
        except Rejected as rejected:
            errors.extend(rejected.errors)
    if errors:
        raise Rejected(*errors)
    return values


def _required(label: str, key: str) -> Rejected:
    return reject(ErrorCode.REQUIRED, f"The {label} cannot be removed.", "input", key)


def _raiser(error: Rejected) -> Callable[[], Any]:
    def fail() -> Any:
        raise error

    return fail


def _snapshot(customer: CustomerRecord) -> dict[str, Any]:
    return {
        "name": customer.name,
        "phone": customer.phone,
        "email": customer.email,
        "customerCode": customer.customer_code,
        "status": customer.status.value,
        "homeStoreId": str(customer.home_store_id) if customer.home_store_id else None,
    }


class CustomerService:
    def __init__(self, tx: Transactions, settings: Settings, actor: Actor | None) -> None:
        self.tx = tx
        self.settings = settings
        self.actor = actor

    # -- validation -----------------------------------------------------------------

    def _name(self, raw: str) -> str:
        return required_text(raw, max_length=NAME_MAX, what="A name", field="name")

    def _phone(self, raw: str, region: str) -> str:
        if not raw.strip():
            raise reject(ErrorCode.REQUIRED, "A phone number is required.", "input", "phone")
        try:
            return normalize_phone(raw, region)
        except InvalidPhone:
            raise reject(
                ErrorCode.PHONE_INVALID,
                "This is not a valid phone number.",
                "input",
                "phone",
            ) from None

    @staticmethod
    def _email(raw: str | None) -> str | None:
        if raw is None or not raw.strip():
            return None
        try:
            return validate_email(raw.strip(), check_deliverability=False).normalized
        except EmailNotValidError as exc:
            raise reject(ErrorCode.EMAIL_INVALID, str(exc), "input", "email") from None

    @staticmethod
    def _code(raw: str | None) -> str | None:
        if raw is None or not raw.strip():
            return None
        code = raw.strip()
        if len(code) > CODE_MAX:
            raise reject(
                ErrorCode.INVALID,
                f"A customer code has at most {CODE_MAX} characters.",
                "input",
                "customerCode",
            )
        return code

    async def _check_unique(
        self,
        uow: UnitOfWork,
        phone: str | None,
        code: str | None,
        own_id: uuid.UUID | None = None,
    ) -> None:
        errors = []
        if phone is not None:
            holder = await uow.customers.id_by_phone(phone)
            if holder is not None and holder != own_id:
                errors.append(
                    UserError(
                        ErrorCode.PHONE_TAKEN,
                        "Another customer has this phone number.",
                        ("input", "phone"),
                    )
                )
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

    async def _require(self, uow: UnitOfWork, customer_id: uuid.UUID) -> CustomerRecord:
        customer = await uow.customers.get(customer_id)
        if customer is None:
            raise reject(ErrorCode.NOT_FOUND, "No such customer.", "id")
        return customer

    def _update_checks(self, cmd: CustomerUpdate, region: str) -> dict[str, Callable[[], Any]]:
        """Checks for the fields an update gives; name and phone cannot be cleared."""
        checks: dict[str, Callable[[], Any]] = {}
        name, phone, email, code = cmd.name, cmd.phone, cmd.email, cmd.customer_code
        if not isinstance(name, Unset):
            checks["name"] = (
                (lambda: self._name(name))
                if name is not None
                else _raiser(_required("name", "name"))
            )
        if not isinstance(phone, Unset):
            checks["phone"] = (
                (lambda: self._phone(phone, region))
                if phone is not None
                else _raiser(_required("phone number", "phone"))
            )
        if not isinstance(email, Unset):
            checks["email"] = lambda: self._email(email)
        if not isinstance(code, Unset):
            checks["customer_code"] = lambda: self._code(code)
        return checks

    def _idempotency_scope(self) -> str:
        actor = self.actor
        if actor is None:
            return "anonymous"
        return str(actor.till_id or actor.staff_user_id or actor.token_id)

    def _consent_source(self) -> ConsentSource:
        return (
            ConsentSource.POS
            if self.actor and self.actor.kind is TokenKind.DEVICE
            else ConsentSource.BACK_OFFICE
        )

    # -- commands -------------------------------------------------------------------

    async def create(self, cmd: CustomerCreate) -> Result[CustomerRecord]:
        """Create a customer; a retry with the same idempotency key returns the first result."""
        request = {k: v for k, v in asdict(cmd).items() if k != "idempotency_key"}
        request_hash = hashlib.sha256(
            json.dumps(request, sort_keys=True, default=str).encode()
        ).hexdigest()
        scope = self._idempotency_scope()

        async def work(uow: UnitOfWork) -> CustomerRecord:
            if cmd.idempotency_key:
                earlier = await uow.idempotency.find(scope, "customerCreate", cmd.idempotency_key)
                if earlier is not None:
                    if earlier.request_hash != request_hash:
                        raise reject(
                            ErrorCode.IDEMPOTENCY_KEY_REUSED,
                            "This idempotency key was used for a different customer.",
                            "input",
                            "idempotencyKey",
                        )
                    return await self._require(uow, uuid.UUID(earlier.result_id))
            business = await uow.business.get()
            region = business.default_phone_region
            fields = _collect(
                {
                    "name": lambda: self._name(cmd.name),
                    "phone": lambda: self._phone(cmd.phone, region),
                    "email": lambda: self._email(cmd.email),
                    "customer_code": lambda: self._code(cmd.customer_code),
                }
            )
            await self._check_unique(uow, fields["phone"], fields["customer_code"])
            home_store_id = cmd.home_store_id or (self.actor.store_id if self.actor else None)
            if home_store_id is None:
                home_store_id = (await uow.stores.head_office()).id
            elif await uow.stores.get(home_store_id) is None:
                raise reject(ErrorCode.NOT_FOUND, "No such store.", "input", "homeStoreId")
            customer = await uow.customers.insert(
                name=fields["name"],
                name_key=name_key(fields["name"]),
                phone=fields["phone"],
                email=fields["email"],
                email_key=email_key(fields["email"]) if fields["email"] else None,
                customer_code=fields["customer_code"],
                home_store_id=home_store_id,
                created_at=uow.now,
                updated_at=uow.now,
            )
            await uow.audit("customer", customer.id, "create", after=_snapshot(customer))
            if cmd.idempotency_key:
                await uow.idempotency.insert(
                    scope,
                    "customerCreate",
                    cmd.idempotency_key,
                    request_hash,
                    str(customer.id),
                )
            # Seed 003: a registered customer is told at once, email preferred, where the
            # business turned the scenario on (seed 000's settings).
            if NotificationScenario.REGISTRATION in business.notification_scenarios:
                channel = MarketingChannel.EMAIL if customer.email else MarketingChannel.SMS
                notification_id = await uow.notifications.insert(
                    customer.id, channel.value, NotificationScenario.REGISTRATION.value
                )
                await uow.enqueue_job(
                    "deliver_notification", {"notification_id": str(notification_id)}
                )
            return customer

        return await self.tx.run(self.actor, work)

    async def update(self, customer_id: uuid.UUID, cmd: CustomerUpdate) -> Result[CustomerRecord]:
        """Change the given fields if the caller saw the current version (else VERSION_CONFLICT)."""

        async def work(uow: UnitOfWork) -> CustomerRecord:
            current = await self._require(uow, customer_id)
            if current.version != cmd.expected_version:
                raise reject(
                    ErrorCode.VERSION_CONFLICT,
                    f"Changed meanwhile (now version {current.version}); reload and retry.",
                    "input",
                    "expectedVersion",
                )
            region = (await uow.business.get()).default_phone_region
            values = _collect(self._update_checks(cmd, region))
            if cmd.home_store_id is not UNSET:
                if (
                    cmd.home_store_id is not None
                    and await uow.stores.get(cmd.home_store_id) is None
                ):
                    raise reject(ErrorCode.NOT_FOUND, "No such store.", "input", "homeStoreId")
                values["home_store_id"] = cmd.home_store_id
            await self._check_unique(
                uow,
                values.get("phone"),
                values.get("customer_code"),
                own_id=customer_id,
            )
            if "name" in values:
                values["name_key"] = name_key(values["name"])
            if "email" in values:
                values["email_key"] = email_key(values["email"]) if values["email"] else None
            before = _snapshot(current)
            if not values:
                return current
            values["updated_at"] = uow.now
            if not await uow.customers.update_if_version(customer_id, cmd.expected_version, values):
                raise reject(
                    ErrorCode.VERSION_CONFLICT,
                    "The customer was changed by someone else; reload and retry.",
                    "input",
                    "expectedVersion",
                )
            updated = await self._require(uow, customer_id)
            after = _snapshot(updated)
            changed = [k for k in after if after[k] != before[k]]
            if changed:
                await uow.audit(
                    "customer",
                    customer_id,
                    "update",
                    before={k: before[k] for k in changed},
                    after={k: after[k] for k in changed},
                )
            # Seed 003: a channel without its address cannot stay subscribed.
            if "email" in values and values["email"] is None:
                await self._unsubscribe_if_subscribed(uow, customer_id, MarketingChannel.EMAIL)
            return updated

        return await self.tx.run(self.actor, work)

    async def set_status(
        self, customer_id: uuid.UUID, status: CustomerStatus
    ) -> Result[CustomerRecord]:
        async def work(uow: UnitOfWork) -> CustomerRecord:
            current = await self._require(uow, customer_id)
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
            current = await self._require(uow, customer_id)
            if await uow.customers.has_sales(customer_id):
                raise reject(
                    ErrorCode.CUSTOMER_HAS_TRANSACTIONS,
                    "This customer has sales and cannot be deleted; deactivate them instead.",
                    "id",
                )
            await uow.audit("customer", customer_id, "delete", before=_snapshot(current))
            await uow.customers.delete(customer_id)
            return customer_id

        return await self.tx.run(self.actor, work)

    async def update_consent(
        self, customer_id: uuid.UUID, channel: MarketingChannel, subscribed: bool
    ) -> Result[CustomerRecord]:
        """Subscribe or unsubscribe one channel; a channel needs its address (seed 003)."""

        async def work(uow: UnitOfWork) -> CustomerRecord:
            customer = await self._require(uow, customer_id)
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
                await self._put_consent(uow, customer_id, channel, before, state)
            return customer

        return await self.tx.run(self.actor, work)

    async def _unsubscribe_if_subscribed(
        self, uow: UnitOfWork, customer_id: uuid.UUID, channel: MarketingChannel
    ) -> None:
        current = (
            (await uow.consents.for_customers([customer_id])).get(customer_id, {}).get(channel)
        )
        if current and current.state is ConsentState.SUBSCRIBED:
            await self._put_consent(
                uow, customer_id, channel, current.state, ConsentState.UNSUBSCRIBED
            )

    async def _put_consent(
        self,
        uow: UnitOfWork,
        customer_id: uuid.UUID,
        channel: MarketingChannel,
        before: ConsentState,
        state: ConsentState,
    ) -> None:
        source = self._consent_source()
        await uow.consents.put(
            customer_id,
            channel,
            state,
            at=uow.now,
            source=source,
            actor_label=self.actor.label if self.actor else "system",
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

    # -- queries --------------------------------------------------------------------

    async def get(self, customer_id: uuid.UUID) -> CustomerRecord | None:
        async with self.tx.db.read() as session:
            return await CustomerRepository(session).get(customer_id)

    @staticmethod
    def to_search(term: str, region: str) -> CustomerSearch:
        """What a typed term may mean: a phone (any format, prefix), a name, a code or an email."""
        term = term.strip()
        if "@" in term:
            return CustomerSearch(email_key=email_key(term), customer_code=term)
        if is_phone_like(term):
            return CustomerSearch(
                phone_prefixes=phone_search_prefixes(term, region),
                customer_code=term,
            )
        return CustomerSearch(name_key=name_key(term) or None, customer_code=term)

    async def search(
        self, query: CustomerQuery, first: int, after: str | None
    ) -> Page[CustomerRecord]:
        spec = CustomerFilterSpec(
            status=query.status, home_store_id=query.home_store_id, group_id=query.group_id
        )
        term = (query.search or "").strip()
        async with self.tx.db.read() as session:
            search = None
            if term:
                region = await self._region_for_search(session, term)
                search = self.to_search(term, region)
            return await CustomerRepository(session).page(search, spec, first, after)

    @staticmethod
    async def _region_for_search(session: Any, term: str) -> str:
        if not is_phone_like(term):
            return ""  # only a typed number needs the region to be read
        return (await BusinessSettingsRepository(session).get()).default_phone_region

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
