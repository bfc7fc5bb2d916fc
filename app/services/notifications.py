"""Notification delivery: one attempt per job run, the database row is the record (DESIGN.md §4)."""

from __future__ import annotations

import asyncio
import html
import logging
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Generic, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from app.db.engine import Database
from app.db.repositories.business import BusinessSettingsRepository
from app.db.repositories.customers import CustomerRepository
from app.db.repositories.notifications import NotificationRepository, NotificationToSend
from app.db.repositories.online_accounts import OnlineAccountRepository
from app.db.repositories.outbox import OutboxRepository
from app.db.repositories.sms_credits import SmsCreditRepository
from app.domain.accounts import OnlineAccountState
from app.domain.records import (
    AttemptOutcome,
    BusinessSettingsRecord,
    CustomerRecord,
    CustomerStatus,
    MarketingChannel,
    NotificationScenario,
)
from app.domain.sms import segment_count
from app.services import account_secrets, sms_credits
from app.services.auth import Passwords, generated_secrets_for
from app.services.gateways import DeliveryFailed, MessageGateway, OutgoingMessage, gateway_name
from app.services.marketing.messages import COMPOSED_HERE, MarketingMessages
from app.services.text import email_key
from app.services.unit_of_work import Transactions, UnitOfWork, utcnow
from app.settings import DEFAULT_PUBLIC_URL, Settings

log = logging.getLogger(__name__)

# A registration message whose account was claimed meanwhile (the customer chose a
# password): no initial password may replace theirs, so nothing is sent.
ACCOUNT_IN_USE = "the online account is no longer waiting for this message; nothing was sent"

# Attempts before a notification that keeps failing transiently is FAILED; with the job's
# backoff (app/jobs/notifications.py) they span two to four minutes by default.
MAX_ATTEMPTS = 5

# Messages meant for one person only: the registration message carries the initial
# password of the online store and the reset message a reset code (seed 003), so sent to
# an address another customer also has, they would hand that person this account. An
# address is shared when another customer row has the email (emails are not unique:
# families share one) or the number. Numbers are unique across main and other phones, and
# a merge hands the pointer's number to the survivor, so today no number is shared; it is
# asked anyway, in the same statement, should that change.
PERSONAL_SCENARIOS = frozenset(
    {NotificationScenario.REGISTRATION.value, NotificationScenario.PASSWORD_RESET.value}
)
SHARED_ADDRESS = "the email or phone is another customer's too; nothing was sent"
# Service messages that go by email first and by SMS only when the email fails for good or
# is skipped (seed 003 "the customer will receive the email first"; docs/notifications.md).
CHAINED_SCENARIOS = PERSONAL_SCENARIOS
CHANNEL_ORDER = (MarketingChannel.EMAIL, MarketingChannel.SMS)


async def address_is_shared(
    customers: CustomerRepository, customer_id: uuid.UUID, email: str | None, phone: str | None
) -> bool:
    return await customers.address_held_by_another(
        customer_id, email_key(email) if email else None, phone
    )


def _address(customer: CustomerRecord, channel: MarketingChannel) -> str | None:
    if channel is MarketingChannel.EMAIL:
        return customer.email
    # An erased customer's placeholder (issue 13) holds the phone column but is no number.
    return customer.phone if customer.phone.startswith("+") else None


def possible_channels(
    customer: CustomerRecord, scenario: NotificationScenario, business: BusinessSettingsRecord
) -> list[MarketingChannel]:
    """The channels a service message may take, email first: an address and the switch on."""
    return [
        channel
        for channel in CHANNEL_ORDER
        if _address(customer, channel) and business.scenario_on(scenario, channel)
    ]


async def queue_service_message(
    uow: UnitOfWork,
    customer: CustomerRecord,
    scenario: NotificationScenario,
    business: BusinessSettingsRecord,
    *,
    channels: Sequence[MarketingChannel] | None = None,
) -> bool:
    """Queue a service message on the first channel that can take it; False: none could.

    Email first (seed 003). A message skipped at once (an address another customer has,
    no SMS credits) moves on to the next channel; one that fails later at the gateway
    moves on from the delivery job (``NotificationDelivery._fall_back``). Every skip is
    kept as a SKIPPED notification with its reason.
    """
    for channel in (
        possible_channels(customer, scenario, business) if channels is None else channels
    ):
        if await _queue_one(uow, customer, scenario, channel):
            return True
    return False


async def _queue_one(
    uow: UnitOfWork,
    customer: CustomerRecord,
    scenario: NotificationScenario,
    channel: MarketingChannel,
) -> bool:
    if scenario.value in PERSONAL_SCENARIOS and await address_is_shared(
        uow.customers,
        customer.id,
        customer.email if channel is MarketingChannel.EMAIL else None,
        customer.phone if channel is MarketingChannel.SMS else None,
    ):
        await uow.notifications.insert(
            customer.id, channel.value, scenario.value, status="SKIPPED", error=SHARED_ADDRESS
        )
        return False
    if channel is MarketingChannel.SMS:
        # The text is composed now to count its segments; the send composes it again (the
        # name may change meanwhile) and settles any difference (_hold_what_it_costs).
        segments = segment_count(sms_text(scenario.value, customer.name))
        notification_id = await uow.notifications.insert(
            customer.id, channel.value, scenario.value, sms_credits=segments
        )
        if not await sms_credits.reserve(
            uow.sms_credits, uow.business, notification_id, segments, uow.now
        ):
            await uow.sms_credits.hold_for(notification_id, 0)
            await uow.notifications.settle(
                notification_id, status="SKIPPED", error=sms_credits.NO_SMS_CREDITS
            )
            return False
    else:
        notification_id = await uow.notifications.insert(customer.id, channel.value, scenario.value)
    await uow.enqueue_job("deliver_notification", {"notification_id": str(notification_id)})
    return True


async def queue_registration(
    uow: UnitOfWork, customer: CustomerRecord, business: BusinessSettingsRecord
) -> bool:
    """Invite a customer to the online store (seed 003): the account, then the message.

    The account is INVITED whether or not a message can go: a customer whose messages all
    fail can still use "Forgot password".
    """
    await uow.online_accounts.ensure(customer.id, uow.now)
    return await queue_service_message(uow, customer, NotificationScenario.REGISTRATION, business)


@dataclass(frozen=True, slots=True)
class DeliveryOutcome:
    status: str
    retry: bool = False
    # The wait the gateway asked for (HTTP Retry-After); the job caps it.
    retry_after: float | None = None


# What stands in for a secret when an SMS's segments are counted at queue time: as long
# as the real one and of the same alphabet (GSM-7), so the count is right.
SECRET_STAND_IN = {
    NotificationScenario.REGISTRATION.value: "x" * account_secrets.INITIAL_PASSWORD_LENGTH,
    NotificationScenario.PASSWORD_RESET.value: "0" * account_secrets.RESET_CODE_LENGTH,
}


def _texts(scenario: str, customer_name: str | None, secret: str | None) -> tuple[str, str, str]:
    """Subject, plain text and HTML markup of a scenario's message."""
    name = customer_name or "customer"
    shown = html.escape(secret or "")
    if scenario == NotificationScenario.REGISTRATION.value:
        subject = "Welcome"
        body = (
            f"Hello {name}, you are now registered with us. Sign in to the online store "
            f"with your email or phone number and this password: {secret}"
        )
        markup = (
            f"<p>Hello {html.escape(name)}, you are now registered with us.</p>"
            "<p>Sign in to the online store with your email or phone number and this "
            f"password: <strong>{shown}</strong></p>"
        )
    elif scenario == NotificationScenario.PASSWORD_RESET.value:
        minutes = account_secrets.RESET_CODE_TTL_MINUTES
        subject = "Your password reset code"
        body = (
            f"Your password reset code is {secret}. It works once, within {minutes} minutes. "
            "If you did not ask for it, ignore this message."
        )
        markup = (
            f"<p>Your password reset code is <strong>{shown}</strong>.</p>"
            f"<p>It works once, within {minutes} minutes. If you did not ask for it, "
            "ignore this message.</p>"
        )
    else:
        subject, body = scenario.title(), f"Hello {name}."
        markup = f"<p>Hello {html.escape(name)}.</p>"
    return subject, body, markup


def sms_text(scenario: str, customer_name: str | None) -> str:
    """The text an SMS of this scenario carries, a stand-in for any secret: what its credits
    are counted on when it is queued."""
    return _texts(scenario, customer_name, SECRET_STAND_IN.get(scenario))[1]


def _compose(item: NotificationToSend, secret: str | None) -> OutgoingMessage | None:
    recipient = item.recipient_email if item.channel == "EMAIL" else item.recipient_phone
    if not recipient:
        return None
    subject, body, markup = _texts(item.scenario, item.customer_name, secret)
    return OutgoingMessage(
        notification_id=item.id,
        channel=item.channel,
        recipient=recipient,
        subject=subject,
        body=body,
        html=_html_page(subject, markup) if item.channel == "EMAIL" else None,
    )


def _html_page(subject: str, markup: str) -> str:
    return (
        '<!DOCTYPE html><html><head><meta charset="utf-8">'
        f"<title>{html.escape(subject)}</title></head><body>{markup}</body></html>"
    )


@dataclass(frozen=True, slots=True)
class _Ready:
    """A notification whose attempt is claimed (and committed): what the send needs."""

    item: NotificationToSend
    outgoing: OutgoingMessage
    number: int
    gateway: str


@dataclass(frozen=True, slots=True)
class _Composed:
    """A message composed before the claim: its text, or why it cannot go, and the hash of
    the secret it carries (an initial password, a reset code) to store with the claim."""

    outgoing: OutgoingMessage | None
    skipped: str | None = None
    secret_hash: str | None = None


@dataclass(frozen=True, slots=True)
class _Ended:
    """An attempt's outcome, to be recorded."""

    outbox_id: uuid.UUID
    item: NotificationToSend
    number: int
    outcome: AttemptOutcome
    error: str | None
    final: bool


T = TypeVar("T")
R = TypeVar("R")


class _Batches(Generic[T, R]):
    """Group commit: what callers submit while a batch runs goes into the next batch.

    ``run`` answers one result per item, in order; an exception in the list is raised to
    that item's caller alone. One caller alone is a batch of one, at no extra wait.
    """

    def __init__(
        self,
        run: Callable[[list[T]], Awaitable[list[R | Exception]]],
        *,
        drop_cancelled: bool,
    ) -> None:
        self._run = run
        # Whether an item whose caller was cancelled before its batch began is left out.
        self._drop_cancelled = drop_cancelled
        self._pending: list[tuple[T, asyncio.Future[R]]] = []
        self._draining: asyncio.Task[None] | None = None

    async def submit(self, item: T) -> R:
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._pending.append((item, future))
        if self._draining is None or self._draining.done():
            # A task of its own: a caller cancelled meanwhile (arq's timeout) must not
            # cancel the batch the other callers wait on.
            self._draining = asyncio.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        while self._pending:
            batch, self._pending = self._pending, []
            if self._drop_cancelled:
                batch = [(item, future) for item, future in batch if not future.done()]
                if not batch:
                    continue
            try:
                results = await self._run([item for item, _ in batch])
            except Exception as error:
                results = [error] * len(batch)
            for (_, future), result in zip(batch, results, strict=True):
                if future.done():  # its caller was cancelled
                    continue
                if isinstance(result, Exception):
                    future.set_exception(result)
                else:
                    future.set_result(result)


class NotificationDelivery:
    """Delivers notifications, many jobs' worth of database work in few transactions.

    The jobs a worker runs at once submit their claims, and then their outcomes, to a
    batch: one read session and one transaction claim the attempts of every job waiting
    (committed before any of them sends), and one transaction records the outcomes. Each
    job still makes one attempt, sends on its own and answers its own outcome; a batch
    that fails is done again one job at a time, so one bad row fails only its own job.
    A transaction costs several statements' time on SQLite (bench/notifications.py).
    """

    def __init__(
        self,
        db: Database,
        gateway: MessageGateway,
        *,
        passwords: Passwords | None = None,
        tx: Transactions | None = None,
        marketing: MarketingMessages | None = None,
    ) -> None:
        self.db = db
        self.gateway = gateway
        self.passwords = passwords or generated_secrets_for(Settings())
        # Hands a fallback SMS to the queue after its commit; without it the relay does.
        self.tx = tx
        # Marketing and its unsubscribe confirmation compose from their campaign, with a
        # link to this server's public address (issue 10 §4).
        self.marketing = marketing or MarketingMessages(db, DEFAULT_PUBLIC_URL)
        # A job cancelled (arq's timeout) before its claim began claims nothing; one
        # cancelled after its send still has its outcome recorded, or the next run would
        # send again.
        self._claims: _Batches[uuid.UUID, _Ready | DeliveryOutcome] = _Batches(
            self._claim_all, drop_cancelled=True
        )
        self._outcomes: _Batches[_Ended, None] = _Batches(self._end_all, drop_cancelled=False)

    async def deliver(self, outbox_id: uuid.UUID, attempt: int) -> DeliveryOutcome:
        """Send the notification an outbox row names, once; a re-run after success does nothing.

        One attempt per call, recorded as a ``notification_attempts`` row; ``attempt`` is
        arq's try number. A transient failure answers ``retry`` (the job defers it), a
        permanent one or the last attempt settles the notification as FAILED.
        """
        ready = await self._claims.submit(outbox_id)
        if isinstance(ready, DeliveryOutcome):
            return ready
        item, number, gateway = ready.item, ready.number, ready.gateway
        try:
            await self.gateway.send(replace(ready.outgoing, attempt=number))
        except DeliveryFailed as failure:
            return await self._failed(outbox_id, item, number, attempt, failure, gateway)
        except Exception:
            # A gateway's bug, not the provider's answer: recorded and retried like a
            # transient failure, so the notification neither hangs QUEUED nor loops forever.
            log.exception("notification gateway raised", extra={"gateway": gateway})
            broken = DeliveryFailed("internal error in the gateway")
            return await self._failed(outbox_id, item, number, attempt, broken, gateway)
        await self._end(outbox_id, item, number, AttemptOutcome.SENT, None)
        return DeliveryOutcome("SENT")

    async def _claim_all(
        self, outbox_ids: list[uuid.UUID]
    ) -> list[_Ready | DeliveryOutcome | Exception]:
        try:
            return list(await self._claim(outbox_ids))
        except Exception as error:
            if len(outbox_ids) == 1:
                return [error]
            log.warning("claiming a batch of notifications failed; one at a time", exc_info=True)
            return [(await self._claim_all([outbox_id]))[0] for outbox_id in outbox_ids]

    async def _claim(self, outbox_ids: list[uuid.UUID]) -> list[_Ready | DeliveryOutcome]:
        """Read, check and claim the attempt of each outbox row's notification.

        The reads stay out of the claim's transaction: two runs of one job that read the
        same attempt count race on one conditional update, and only one sends (SQLite
        would serialize a read-and-claim transaction, and the second run would take the
        first's claim for an attempt cut short). Two runs of one job in one batch: the
        first claims, the second answers as a run that lost the race.
        """
        async with self.db.read() as session:
            payloads = await OutboxRepository(session).get_many(list(set(outbox_ids)))
            notification_ids = {
                outbox_id: uuid.UUID(payload["notification_id"])
                for outbox_id, payload in payloads.items()
            }
            items = await NotificationRepository(session).get_many_for_sending(
                list(set(notification_ids.values()))
            )
            # Checked again at send time: addresses are read then, and may have changed.
            shared = await _shared(
                session, [item for item in items.values() if item.status == "QUEUED"]
            )
        # Composed outside the claim's transaction: a campaign's text is read, and a secret
        # is hashed (argon2, tens of milliseconds), neither while holding the write lock.
        composed = {
            item.id: await self._compose(item)
            for item in items.values()
            if item.status == "QUEUED" and item.id not in shared
        }
        results: list[_Ready | DeliveryOutcome] = []
        fallback: list[tuple[str, str]] = []
        async with self.db.write() as session:
            first_run: dict[uuid.UUID, int] = {}
            to_claim: dict[uuid.UUID, tuple[NotificationToSend, OutgoingMessage, str]] = {}
            for index, outbox_id in enumerate(outbox_ids):
                if outbox_id in first_run:
                    earlier = results[first_run[outbox_id]]
                    results.append(earlier if isinstance(earlier, DeliveryOutcome) else _LOST)
                    continue
                first_run[outbox_id] = index
                notification_id = notification_ids.get(outbox_id)
                if notification_id is None:
                    results.append(DeliveryOutcome("MISSING"))
                    continue
                item = items.get(notification_id)
                checked = await self._check(
                    session,
                    outbox_id,
                    notification_id,
                    item,
                    notification_id in shared,
                    composed.get(notification_id),
                    fallback,
                )
                if isinstance(checked, DeliveryOutcome):
                    results.append(checked)
                    continue
                assert item is not None
                to_claim[outbox_id] = (item, *checked)
                results.append(_LOST)  # until the claim below says otherwise
            # Committed before the send (this transaction ends before any job sends): a
            # worker killed mid-send leaves an attempt with no outcome, and the next run
            # numbers its own attempt after it.
            now = utcnow()
            claimed = await NotificationRepository(session).begin_attempts(
                [(item.id, item.attempts, gateway) for item, _, gateway in to_claim.values()],
                started_at=now,
            )
            # The secret's hash is stored only by the run that claimed the attempt, in the
            # claim's transaction: a run that lost the race must not replace the hash of
            # the secret the winner sends.
            for outbox_id, (item, _, _) in to_claim.items():
                secret_hash = composed[item.id].secret_hash
                if item.id not in claimed or secret_hash is None:
                    continue
                if not await _store_secret(session, item, secret_hash, now):
                    claimed.discard(item.id)
                    await NotificationRepository(session).finish_attempt(
                        item.id,
                        item.attempts + 1,
                        outcome=AttemptOutcome.PERMANENT.value,
                        error=ACCOUNT_IN_USE,
                        finished_at=now,
                    )
                    fallback += await _finish(session, outbox_id, item, "SKIPPED", ACCOUNT_IN_USE)
                    results[first_run[outbox_id]] = DeliveryOutcome("SKIPPED")
        await self._dispatch(fallback)
        for outbox_id, (item, outgoing, gateway) in to_claim.items():
            if item.id in claimed:
                results[first_run[outbox_id]] = _Ready(item, outgoing, item.attempts + 1, gateway)
        return results

    async def _compose(self, item: NotificationToSend) -> _Composed:
        if item.scenario in COMPOSED_HERE:
            message = await self.marketing.compose(item)
            if isinstance(message, str):
                return _Composed(None, skipped=message)
            return _Composed(message)
        secret, secret_hash = await self._new_secret(item.scenario)
        return _Composed(_compose(item, secret), secret_hash=secret_hash)

    async def _new_secret(self, scenario: str) -> tuple[str | None, str | None]:
        """A new initial password or reset code for this send, and its argon2 hash."""
        if scenario == NotificationScenario.REGISTRATION.value:
            secret = account_secrets.initial_password()
        elif scenario == NotificationScenario.PASSWORD_RESET.value:
            secret = account_secrets.reset_code()
        else:
            return None, None
        # argon2 takes tens of milliseconds of CPU: off the event loop, like staff login.
        return secret, await asyncio.to_thread(self.passwords.hash, secret)

    async def _dispatch(self, messages: list[tuple[str, str]]) -> None:
        if messages and self.tx is not None:
            await self.tx.dispatch(messages)

    async def _check(
        self,
        session: AsyncSession,
        outbox_id: uuid.UUID,
        notification_id: uuid.UUID,
        item: NotificationToSend | None,
        shared: bool,
        composed: _Composed | None,
        fallback: list[tuple[str, str]],
    ) -> tuple[OutgoingMessage, str] | DeliveryOutcome:
        """The message and gateway of a notification that may go, or, settled here in the
        caller's transaction, why it does not (and any SMS the chain goes on with)."""
        if item is None or item.status != "QUEUED":
            fallback += await _finish(session, outbox_id, None, None, None)
            return DeliveryOutcome(item.status if item else "MISSING")
        reason = None
        if shared:
            reason = SHARED_ADDRESS
        elif composed is not None and composed.skipped is not None:
            reason = composed.skipped
        elif composed is None or composed.outgoing is None:
            reason = "no address for this channel"
        elif composed.secret_hash is not None and not await _account_waits(session, item):
            reason = ACCOUNT_IN_USE
        elif item.channel == "SMS" and not await _hold_what_it_costs(
            session, item, composed.outgoing.body
        ):
            reason = sms_credits.NO_SMS_CREDITS
        if reason is not None or composed is None or composed.outgoing is None:
            fallback += await _finish(session, outbox_id, item, "SKIPPED", reason)
            return DeliveryOutcome("SKIPPED")
        return composed.outgoing, gateway_name(self.gateway, item.channel)

    async def _failed(
        self,
        outbox_id: uuid.UUID,
        item: NotificationToSend,
        number: int,
        attempt: int,
        failure: DeliveryFailed,
        gateway: str,
    ) -> DeliveryOutcome:
        reason = str(failure)
        if failure.permanent:
            await self._end(outbox_id, item, number, AttemptOutcome.PERMANENT, reason)
            return DeliveryOutcome("FAILED")
        # The larger of arq's count and ours: arq counts runs a crash cut short, ours counts
        # sends started, and neither alone may let a notification try forever.
        final = max(attempt, number) >= MAX_ATTEMPTS
        await self._end(outbox_id, item, number, AttemptOutcome.TRANSIENT, reason, final=final)
        if final:
            return DeliveryOutcome("FAILED")
        log.warning(
            "notification delivery failed, will retry",
            extra={"attempt": number, "gateway": gateway},
        )
        return DeliveryOutcome("QUEUED", retry=True, retry_after=failure.retry_after)

    async def _end(
        self,
        outbox_id: uuid.UUID,
        item: NotificationToSend,
        number: int,
        outcome: AttemptOutcome,
        error: str | None,
        *,
        final: bool = True,
    ) -> None:
        """Close the attempt and, in the same transaction, the notification when it is final."""
        await self._outcomes.submit(_Ended(outbox_id, item, number, outcome, error, final))

    async def _end_all(self, ended: list[_Ended]) -> list[Exception | None]:
        try:
            async with self.db.write() as session:
                fallback = await _record(session, ended, utcnow())
        except Exception as error:
            if len(ended) == 1:
                return [error]
            log.warning("recording a batch of outcomes failed; one at a time", exc_info=True)
            return [(await self._end_all([one]))[0] for one in ended]
        await self._dispatch(fallback)
        return [None] * len(ended)


# What a run answers when another run of its job holds the attempt: that run sends, and
# settles the row.
_LOST = DeliveryOutcome("QUEUED")


async def _record(
    session: AsyncSession, ended: list[_Ended], now: datetime
) -> list[tuple[str, str]]:
    """Record outcomes in the caller's transaction: the common one (sent, no credits to
    settle) for all at once, any other one by one. Answers the outbox rows of the SMS that
    failed emails' chains go on with."""
    # Only an SMS holds credits (reserved at queue time, adjusted before the send); an
    # email's settlement would be a read that finds none.
    plain = [
        e
        for e in ended
        if e.outcome is AttemptOutcome.SENT and e.item.channel != "SMS" and not e.item.sms_credits
    ]
    if plain:
        await NotificationRepository(session).finish_sent(
            [(e.item.id, e.number) for e in plain], at=now
        )
        await OutboxRepository(session).claim_many([e.outbox_id for e in plain], now)
    done = {id(e) for e in plain}
    fallback: list[tuple[str, str]] = []
    for e in ended:
        if id(e) not in done:
            fallback += await _record_one(session, e, now)
    return fallback


async def _record_one(session: AsyncSession, e: _Ended, now: datetime) -> list[tuple[str, str]]:
    notification_id = e.item.id
    notifications = NotificationRepository(session)
    await notifications.finish_attempt(
        notification_id, e.number, outcome=e.outcome.value, error=e.error, finished_at=now
    )
    credits = SmsCreditRepository(session)
    if e.outcome is AttemptOutcome.SENT:
        await notifications.settle(notification_id, status="SENT", error=None, sent_at=now)
        await sms_credits.settle(credits, notification_id, sent=True, now=now)
    elif e.final:
        await notifications.settle(notification_id, status="FAILED", error=e.error)
        await sms_credits.settle(credits, notification_id, sent=False, now=now)
        await OutboxRepository(session).claim(e.outbox_id, now)
        return await _fall_back(session, e.item)
    else:
        assert e.error is not None
        await notifications.note_error(notification_id, e.error)
        return []
    await OutboxRepository(session).claim(e.outbox_id, now)
    return []


async def _hold_what_it_costs(session: AsyncSession, item: NotificationToSend, body: str) -> bool:
    """Make the credits held match the text about to be sent; False: too few left.

    The hold was counted on the text composed at queue time (or is 0 for an SMS queued
    before credits existed); the text sent now may differ, so the difference is
    reserved, or given back, before the send.
    """
    return await sms_credits.adjust_hold(
        SmsCreditRepository(session),
        BusinessSettingsRepository(session),
        item.id,
        held=item.sms_credits,
        needed=segment_count(body),
        now=utcnow(),
    )


async def _shared(session: AsyncSession, items: list[NotificationToSend]) -> set[uuid.UUID]:
    """The ids of the notifications, among ``items``, meant for one person whose address
    another customer has too."""
    personal = [
        item
        for item in items
        if item.scenario in PERSONAL_SCENARIOS and item.customer_id is not None
    ]
    if not personal:
        return set()
    holders = {
        item.customer_id: (
            email_key(item.recipient_email) if item.recipient_email else None,
            item.recipient_phone,
        )
        for item in personal
        if item.customer_id is not None
    }
    shared = await CustomerRepository(session).addresses_held_by_others(
        [(customer_id, key, phone) for customer_id, (key, phone) in holders.items()]
    )
    return {item.id for item in personal if item.customer_id in shared}


async def _finish(
    session: AsyncSession,
    outbox_id: uuid.UUID,
    item: NotificationToSend | None,
    status: str | None,
    error: str | None,
) -> list[tuple[str, str]]:
    """Settle a notification that no gateway saw (skipped), and close its outbox row;
    answers the outbox rows of the SMS a skipped email's chain goes on with."""
    now = utcnow()
    fallback: list[tuple[str, str]] = []
    if status is not None and item is not None:
        await NotificationRepository(session).settle(item.id, status=status, error=error)
        await sms_credits.settle(SmsCreditRepository(session), item.id, sent=False, now=now)
        fallback = await _fall_back(session, item)
    await OutboxRepository(session).claim(outbox_id, now)
    return fallback


async def _account_waits(session: AsyncSession, item: NotificationToSend) -> bool:
    """Whether the online account still takes the secret this message would carry: an
    initial password only while INVITED, a reset code unless DISABLED."""
    if item.customer_id is None:
        return False
    account = await OnlineAccountRepository(session).get(item.customer_id)
    if account is None:
        return False
    if item.scenario == NotificationScenario.REGISTRATION.value:
        return account.state is OnlineAccountState.INVITED
    return account.state is not OnlineAccountState.DISABLED


async def _store_secret(
    session: AsyncSession, item: NotificationToSend, secret_hash: str, now: datetime
) -> bool:
    assert item.customer_id is not None
    accounts = OnlineAccountRepository(session)
    if item.scenario == NotificationScenario.REGISTRATION.value:
        return await accounts.set_initial_password(item.customer_id, secret_hash, now)
    expires = now + timedelta(minutes=account_secrets.RESET_CODE_TTL_MINUTES)
    return await accounts.set_reset_code(item.customer_id, secret_hash, expires, now)


async def _fall_back(session: AsyncSession, item: NotificationToSend) -> list[tuple[str, str]]:
    """After an email of a chained scenario fails for good or is skipped, the SMS.

    Queued in the transaction that settles the email, so the chain cannot stop between
    the two; answers the outbox rows to hand to the queue after the commit.
    """
    if (
        item.channel != MarketingChannel.EMAIL.value
        or item.scenario not in CHAINED_SCENARIOS
        or item.customer_id is None
    ):
        return []
    uow = UnitOfWork(session, None)
    customer = await uow.customers.get(item.customer_id)
    if customer is None or customer.status != CustomerStatus.ACTIVE:
        return []
    scenario = NotificationScenario(item.scenario)
    business = await uow.business.get()
    if customer.phone and business.scenario_on(scenario, MarketingChannel.SMS):
        await queue_service_message(
            uow, customer, scenario, business, channels=[MarketingChannel.SMS]
        )
    return uow.outbox_messages
