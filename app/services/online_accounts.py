"""Online-store accounts (issue 10 §3, seed 003): invitations, sign-in, password reset, and
what a signed-in customer may do: read and change their own profile and consent, nothing else.

Sign-in names are the customer's email (any case) or main phone (any format). A name that
more than one active customer holds signs nobody in: families share emails, and guessing
which of them is meant would hand one person another's account; those customers sign in
with their phone. The answers never tell whether a name exists.
"""

from __future__ import annotations

import asyncio
import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta

from app.db.repositories.business import BusinessSettingsRepository
from app.db.repositories.customers import CustomerRepository
from app.db.repositories.online_accounts import OnlineAccountRepository
from app.domain.accounts import (
    AccountCredentials,
    CustomerSession,
    OnlineAccountRecord,
    OnlineAccountState,
)
from app.domain.errors import ErrorCode, UserError, reject
from app.domain.records import (
    Actor,
    CustomerRecord,
    CustomerStatus,
    MarketingChannel,
    NotificationScenario,
    TokenKind,
)
from app.services.account_secrets import RESET_CODE_MAX_FAILURES
from app.services.auth import MIN_PASSWORD_LENGTH, hash_token, passwords_for
from app.services.customers import CustomerService, CustomerUpdate
from app.services.notifications import (
    possible_channels,
    queue_registration,
    queue_service_message,
)
from app.services.phones import InvalidPhone, normalize_phone
from app.services.text import email_key
from app.services.throttle import LoginThrottle
from app.services.unit_of_work import Result, Transactions, UnitOfWork, utcnow
from app.settings import Settings

# Customer tokens carry their kind in the open, so the request's token lookup goes to the
# one table that can hold it (a staff token never costs a customer lookup, nor the reverse).
CUSTOMER_TOKEN_PREFIX = "pcc_"  # noqa: S105 (a prefix, not a secret)
LOGIN_MAX = 320
PASSWORD_MAX = 200
WRONG_LOGIN = "Wrong sign-in name or password."
# Reset messages per customer: one a minute, RESET_CAP an hour (notifications rows, so
# every process counts the same, with or without Redis).
RESET_RESEND_AFTER = timedelta(minutes=1)
RESET_CAP = 5
RESET_CAP_WINDOW = timedelta(hours=1)
WRONG_CODE = "This code is wrong, used or expired; ask for a new one."


@dataclass(frozen=True, slots=True)
class LoginName:
    email_key: str | None
    phone: str | None


def _throttled() -> Result[str]:
    return Result(
        errors=[UserError(ErrorCode.TOO_MANY_ATTEMPTS, "Too many attempts; try again later.")]
    )


def customer_actor(session: CustomerSession) -> Actor:
    """The customer as the audit trail and the consent history name them."""
    return Actor(
        token_id=session.token_id,
        kind=TokenKind.CUSTOMER,
        permissions=frozenset(),
        store_id=None,
        label="customer (online store)",
    )


async def resolve_customer_session(tx: Transactions, token: str) -> CustomerSession | None:
    async with tx.db.read() as session:
        return await OnlineAccountRepository(session).session_for_token(hash_token(token), utcnow())


class OnlineAccountService:
    def __init__(
        self,
        tx: Transactions,
        settings: Settings,
        throttle: LoginThrottle | None,
        *,
        actor: Actor | None = None,
        customer: CustomerSession | None = None,
    ) -> None:
        self.tx = tx
        self.settings = settings
        self.throttle = throttle
        self.actor = actor
        self.customer = customer
        self.passwords = passwords_for(settings)

    # -- the shop's side --------------------------------------------------------------

    async def accounts_for(
        self, customer_ids: list[uuid.UUID]
    ) -> dict[uuid.UUID, OnlineAccountRecord]:
        async with self.tx.db.read() as session:
            return await OnlineAccountRepository(session).get_many(customer_ids)

    async def invite(self, customer_id: uuid.UUID) -> Result[CustomerRecord]:
        """Send the registration message again, with a new initial password.

        Refused when the customer already chose a password (ACCOUNT_ACTIVE: a new initial
        password would not replace theirs; the reset is for that), and when no channel can
        carry it (NO_MESSAGE_CHANNEL).
        """

        async def work(uow: UnitOfWork) -> CustomerRecord:
            customer = await uow.customers.get(customer_id)
            if customer is None or customer.status is CustomerStatus.MERGED:
                raise reject(ErrorCode.NOT_FOUND, "No such customer.", "customerId")
            if customer.status is not CustomerStatus.ACTIVE:
                raise reject(ErrorCode.CUSTOMER_INACTIVE, "The customer is inactive.", "customerId")
            account = await uow.online_accounts.get(customer_id)
            if account is not None and account.state is not OnlineAccountState.INVITED:
                raise reject(
                    ErrorCode.ACCOUNT_ACTIVE,
                    "The customer already uses the online store; they can reset their password.",
                    "customerId",
                )
            business = await uow.business.get()
            if not possible_channels(customer, NotificationScenario.REGISTRATION, business):
                raise reject(
                    ErrorCode.NO_MESSAGE_CHANNEL,
                    "The customer has no email or phone that registration messages are on for.",
                    "customerId",
                )
            await queue_registration(uow, customer, business)
            await uow.audit("customer", customer_id, "account_invite")
            return customer

        return await self.tx.run(self.actor, work)

    # -- sign-in and reset ------------------------------------------------------------

    async def _customer_for(self, login: str) -> uuid.UUID | None:
        """The one active customer whose email or main phone ``login`` is; None otherwise."""
        login = login.strip()
        if not login or len(login) > LOGIN_MAX:
            return None
        async with self.tx.db.read() as session:
            if "@" in login:
                name = LoginName(email_key=email_key(login), phone=None)
            else:
                region = (await BusinessSettingsRepository(session).get()).default_phone_region
                try:
                    name = LoginName(email_key=None, phone=normalize_phone(login, region))
                except InvalidPhone:
                    return None
            found = await OnlineAccountRepository(session).customers_by_login(
                name.email_key, name.phone
            )
        return found[0] if len(found) == 1 else None

    async def _credentials(self, customer_id: uuid.UUID | None) -> AccountCredentials | None:
        if customer_id is None:
            return None
        async with self.tx.db.read() as session:
            return await OnlineAccountRepository(session).credentials(customer_id)

    def _throttle_key(self, purpose: str, login: str) -> str:
        return f"customer-{purpose}:{login.strip().casefold()[:LOGIN_MAX]}"

    async def _issue_token(self, uow: UnitOfWork, customer_id: uuid.UUID) -> str:
        token = CUSTOMER_TOKEN_PREFIX + secrets.token_urlsafe(32)
        expires = uow.now + timedelta(hours=self.settings.customer_token_ttl_hours)
        await uow.online_accounts.insert_token(customer_id, hash_token(token), uow.now, expires)
        return token

    async def login(self, login: str, password: str, client: str) -> Result[str]:
        """A customer token for the right password; throttled like staff sign-in."""
        throttle = self._require_throttle()
        key = self._throttle_key("login", login)
        if not await throttle.attempt(key, client):
            return _throttled()
        credentials = await self._credentials(await self._customer_for(login))
        usable = (
            credentials is not None
            and credentials.password_hash is not None
            and credentials.state is not OnlineAccountState.DISABLED
            and len(password) <= PASSWORD_MAX
        )
        # A miss costs a hash check too, so timing does not tell which names exist.
        stored = credentials.password_hash if usable and credentials else None
        valid = await asyncio.to_thread(
            self.passwords.verify, stored or self.passwords.dummy_hash, password[:PASSWORD_MAX]
        )
        if not (usable and valid and credentials and stored):
            await throttle.record_failure(client)
            return Result(errors=[UserError(ErrorCode.INVALID_CREDENTIALS, WRONG_LOGIN)])
        await throttle.clear(key, client)
        customer_id = credentials.customer_id
        rehash = self.passwords.hash(password) if self.passwords.needs_rehash(stored) else None

        async def work(uow: UnitOfWork) -> str:
            await uow.online_accounts.signed_in(customer_id, uow.now, rehash)
            return await self._issue_token(uow, customer_id)

        return await self.tx.run(None, work)

    async def request_reset(self, login: str, client: str) -> Result[bool]:
        """Send a reset code, by email or by SMS where there is no email.

        The answer is the same whether or not the name exists, and both paths run one
        write transaction. The code itself is made by the delivery job.
        """
        throttle = self._require_throttle()
        if not await throttle.attempt(self._throttle_key("reset-request", login), client):
            return Result(
                errors=[UserError(ErrorCode.TOO_MANY_ATTEMPTS, "Too many requests; try later.")]
            )
        customer_id = await self._customer_for(login)

        async def work(uow: UnitOfWork) -> bool:
            customer = await uow.customers.get(customer_id) if customer_id else None
            if customer is None or customer.status is not CustomerStatus.ACTIVE:
                return True
            account = await uow.online_accounts.ensure(customer.id, uow.now)
            if account.state is OnlineAccountState.DISABLED:
                return True
            if await self._sent_too_often(uow, customer.id):
                return True
            business = await uow.business.get()
            await queue_service_message(
                uow, customer, NotificationScenario.PASSWORD_RESET, business
            )
            return True

        return await self.tx.run(None, work)

    @staticmethod
    async def _sent_too_often(uow: UnitOfWork, customer_id: uuid.UUID) -> bool:
        """A cap per customer, whatever the addresses asking: the throttle counts per name
        and address, so requests from many addresses could flood a customer's inbox and
        spend the shop's SMS credits. Asking again resends at most once a minute."""
        count, last = await uow.notifications.sent_since(
            customer_id, NotificationScenario.PASSWORD_RESET.value, uow.now - RESET_CAP_WINDOW
        )
        return count >= RESET_CAP or (last is not None and uow.now - last < RESET_RESEND_AFTER)

    async def reset(self, login: str, code: str, new_password: str, client: str) -> Result[str]:
        """Set a new password with a reset code; the code works once. Signs the customer in."""
        if not MIN_PASSWORD_LENGTH <= len(new_password) <= PASSWORD_MAX:
            return Result(
                errors=[
                    UserError(
                        ErrorCode.INVALID,
                        f"A password has {MIN_PASSWORD_LENGTH} to {PASSWORD_MAX} characters.",
                        ("newPassword",),
                    )
                ]
            )
        throttle = self._require_throttle()
        key = self._throttle_key("reset", login)
        if not await throttle.attempt(key, client):
            return _throttled()
        credentials = await self._credentials(await self._customer_for(login))
        now = utcnow()
        live = (
            credentials is not None
            and credentials.reset_code_hash is not None
            and credentials.reset_code_expires_at is not None
            and credentials.reset_code_expires_at > now
            and credentials.reset_code_failures < RESET_CODE_MAX_FAILURES
            and credentials.state is not OnlineAccountState.DISABLED
        )
        stored = credentials.reset_code_hash if live and credentials else None
        valid = await asyncio.to_thread(
            self.passwords.verify, stored or self.passwords.dummy_hash, code.strip()[:32]
        )
        if not (live and valid and credentials and stored):
            await throttle.record_failure(client)
            if live and credentials:
                await self._count_failure(credentials.customer_id)
            return Result(errors=[UserError(ErrorCode.INVALID_RESET_CODE, WRONG_CODE, ("code",))])
        await throttle.clear(key, client)
        customer_id = credentials.customer_id
        password_hash = await asyncio.to_thread(self.passwords.hash, new_password)

        async def work(uow: UnitOfWork) -> str:
            # Spent at most once: two racing resets with one code, only one finds it.
            current = await uow.online_accounts.credentials(customer_id)
            if current is None or current.reset_code_hash != stored:
                raise reject(ErrorCode.INVALID_RESET_CODE, WRONG_CODE, "code")
            await uow.online_accounts.set_password(customer_id, password_hash, uow.now)
            # Whoever held the old password is signed out everywhere.
            await uow.online_accounts.revoke_tokens(customer_id, uow.now)
            await uow.online_accounts.signed_in(customer_id, uow.now)
            await uow.audit("customer", customer_id, "account_password_reset")
            return await self._issue_token(uow, customer_id)

        return await self.tx.run(None, work)

    async def _count_failure(self, customer_id: uuid.UUID) -> None:
        async with self.tx.db.write() as session:
            await OnlineAccountRepository(session).count_code_failure(customer_id)

    def _require_throttle(self) -> LoginThrottle:
        if self.throttle is None:
            raise RuntimeError("customer sign-in needs a throttle")
        return self.throttle

    # -- the signed-in customer -------------------------------------------------------

    def _own(self) -> CustomerSession:
        if self.customer is None:
            raise RuntimeError("no customer signed in")  # the schema's guard sees to it
        return self.customer

    async def me(self) -> CustomerRecord | None:
        async with self.tx.db.read() as session:
            return await CustomerRepository(session).get(self._own().customer_id)

    def _as_customer(self) -> CustomerService:
        return CustomerService(self.tx, self.settings, customer_actor(self._own()))

    async def update_me(self, cmd: CustomerUpdate) -> Result[CustomerRecord]:
        """Name, email and phone, through the same checks as the shop's own edits."""
        return await self._as_customer().update(self._own().customer_id, cmd)

    async def update_my_consent(
        self, channel: MarketingChannel, subscribed: bool
    ) -> Result[CustomerRecord]:
        return await self._as_customer().update_consent(
            self._own().customer_id, channel, subscribed
        )

    async def logout(self) -> Result[bool]:
        own = self._own()
        actor = customer_actor(own)

        async def work(uow: UnitOfWork) -> bool:
            return await uow.online_accounts.revoke_token(own.token_id, uow.now)

        return await self.tx.run(actor, work)
