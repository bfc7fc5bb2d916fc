"""Notification delivery: one attempt per job run, the database row is the record (DESIGN.md §4)."""

from __future__ import annotations

import asyncio
import html
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from app.db.engine import Database
from app.db.repositories.business import BusinessSettingsRepository
from app.db.repositories.customers import CustomerRepository
from app.db.repositories.notifications import NotificationRepository, NotificationToSend
from app.db.repositories.online_accounts import OnlineAccountRepository
from app.db.repositories.outbox import OutboxRepository
from app.db.repositories.sms_credits import SmsCreditRepository
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
from app.services.auth import Passwords, passwords_for
from app.services.gateways import DeliveryFailed, MessageGateway, OutgoingMessage, gateway_name
from app.services.marketing.messages import COMPOSED_HERE, MarketingMessages
from app.services.text import email_key
from app.services.unit_of_work import Transactions, UnitOfWork, utcnow
from app.settings import DEFAULT_PUBLIC_URL, Settings

log = logging.getLogger(__name__)

# _begin's answer when the account no longer takes the secret this send would carry: the
# customer chose a password meanwhile (no initial one over it), or the account is disabled.
ACCOUNT_TAKEN = -1


class _AccountTaken(Exception):
    pass


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
    return customer.email if channel is MarketingChannel.EMAIL else customer.phone


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


class NotificationDelivery:
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
        self.passwords = passwords or passwords_for(Settings())
        # Hands a fallback SMS to the queue after its commit; without it the relay does.
        self.tx = tx
        # Marketing and its unsubscribe confirmation compose from their campaign, with a
        # link to this server's public address (issue 10 §4).
        self.marketing = marketing or MarketingMessages(db, DEFAULT_PUBLIC_URL)

    async def deliver(self, outbox_id: uuid.UUID, attempt: int) -> DeliveryOutcome:
        """Send the notification an outbox row names, once; a re-run after success does nothing.

        One attempt per call, recorded as a ``notification_attempts`` row; ``attempt`` is
        arq's try number. A transient failure answers ``retry`` (the job defers it), a
        permanent one or the last attempt settles the notification as FAILED.
        """
        async with self.db.read() as session:
            message = await OutboxRepository(session).get(outbox_id)
            if message is None:
                return DeliveryOutcome("MISSING")
            notification_id = uuid.UUID(message[1]["notification_id"])
            item = await NotificationRepository(session).get_for_sending(notification_id)
        if item is None or item.status != "QUEUED":
            await self._finish(outbox_id, None, None, None)
            return DeliveryOutcome(item.status if item else "MISSING")
        if await self._shared(item):
            # Checked again at send time: addresses are read then, and may have changed.
            await self._finish(outbox_id, item, "SKIPPED", SHARED_ADDRESS)
            return DeliveryOutcome("SKIPPED")
        outgoing: OutgoingMessage | None
        if item.scenario in COMPOSED_HERE:
            composed = await self.marketing.compose(item)
            if isinstance(composed, str):
                await self._finish(outbox_id, item, "SKIPPED", composed)
                return DeliveryOutcome("SKIPPED")
            outgoing, secret_hash = composed, None
        else:
            secret, secret_hash = await self._new_secret(item.scenario)
            outgoing = _compose(item, secret)
        if outgoing is None:
            await self._finish(outbox_id, item, "SKIPPED", "no address for this channel")
            return DeliveryOutcome("SKIPPED")
        if item.channel == "SMS" and not await self._hold_what_it_costs(item, outgoing.body):
            await self._finish(outbox_id, item, "SKIPPED", sms_credits.NO_SMS_CREDITS)
            return DeliveryOutcome("SKIPPED")
        gateway = gateway_name(self.gateway, item.channel)
        number = await self._begin(item, gateway, secret_hash)
        if number is None:
            # Another run of this job (arq redelivers after a timeout) claimed the attempt:
            # that run sends, and settles the row.
            return DeliveryOutcome("QUEUED")
        if number == ACCOUNT_TAKEN:
            await self._finish(outbox_id, item, "SKIPPED", ACCOUNT_IN_USE)
            return DeliveryOutcome("SKIPPED")
        try:
            await self.gateway.send(outgoing)
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

    async def _hold_what_it_costs(self, item: NotificationToSend, body: str) -> bool:
        """Make the credits held match the text about to be sent; False: too few left.

        The hold was counted on the text composed at queue time (or is 0 for an SMS queued
        before credits existed); the text sent now may differ, so the difference is
        reserved, or given back, before the send.
        """
        async with self.db.write() as session:
            return await sms_credits.adjust_hold(
                SmsCreditRepository(session),
                BusinessSettingsRepository(session),
                item.id,
                held=item.sms_credits,
                needed=segment_count(body),
                now=utcnow(),
            )

    async def _begin(
        self, item: NotificationToSend, gateway: str, secret_hash: str | None
    ) -> int | None:
        """Number this attempt and store the hash of the secret it carries, in one commit.

        Committed before the send: a worker killed mid-send leaves an attempt with no
        outcome, and the next run numbers its own attempt after it. None: another run
        claimed this attempt; ACCOUNT_TAKEN: the account no longer takes this secret.
        """
        try:
            async with self.db.write() as session:
                now = utcnow()
                number = await NotificationRepository(session).begin_attempt(
                    item.id, seen_attempts=item.attempts, gateway=gateway, started_at=now
                )
                if number is None or secret_hash is None or item.customer_id is None:
                    return number
                accounts = OnlineAccountRepository(session)
                if item.scenario == NotificationScenario.REGISTRATION.value:
                    stored = await accounts.set_initial_password(item.customer_id, secret_hash, now)
                else:
                    expires = now + timedelta(minutes=account_secrets.RESET_CODE_TTL_MINUTES)
                    stored = await accounts.set_reset_code(
                        item.customer_id, secret_hash, expires, now
                    )
                if not stored:
                    # Rolled back: nothing is sent, so no attempt is kept.
                    raise _AccountTaken
                return number
        except _AccountTaken:
            return ACCOUNT_TAKEN

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
        notification_id = item.id
        fallback: list[tuple[str, str]] = []
        async with self.db.write() as session:
            now = utcnow()
            notifications = NotificationRepository(session)
            await notifications.finish_attempt(
                notification_id, number, outcome=outcome.value, error=error, finished_at=now
            )
            credits = SmsCreditRepository(session)
            if outcome is AttemptOutcome.SENT:
                await notifications.settle(notification_id, status="SENT", error=None, sent_at=now)
                await sms_credits.settle(credits, notification_id, sent=True, now=now)
            elif final:
                await notifications.settle(notification_id, status="FAILED", error=error)
                await sms_credits.settle(credits, notification_id, sent=False, now=now)
                fallback = await self._fall_back(session, item)
            else:
                assert error is not None
                await notifications.note_error(notification_id, error)
                return
            await OutboxRepository(session).claim(outbox_id, now)
        await self._dispatch(fallback)

    async def _shared(self, item: NotificationToSend) -> bool:
        if item.scenario not in PERSONAL_SCENARIOS or item.customer_id is None:
            return False
        async with self.db.read() as session:
            return await address_is_shared(
                CustomerRepository(session),
                item.customer_id,
                item.recipient_email,
                item.recipient_phone,
            )

    async def _finish(
        self,
        outbox_id: uuid.UUID,
        item: NotificationToSend | None,
        status: str | None,
        error: str | None,
    ) -> None:
        """Settle a notification that no gateway saw (skipped), and close its outbox row."""
        fallback: list[tuple[str, str]] = []
        async with self.db.write() as session:
            now = utcnow()
            if status is not None and item is not None:
                await NotificationRepository(session).settle(item.id, status=status, error=error)
                await sms_credits.settle(SmsCreditRepository(session), item.id, sent=False, now=now)
                fallback = await self._fall_back(session, item)
            await OutboxRepository(session).claim(outbox_id, now)
        await self._dispatch(fallback)

    async def _fall_back(
        self, session: AsyncSession, item: NotificationToSend
    ) -> list[tuple[str, str]]:
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

    async def _dispatch(self, messages: list[tuple[str, str]]) -> None:
        if messages and self.tx is not None:
            await self.tx.dispatch(messages)
