"""Notification delivery: one attempt per job run, the database row is the record (DESIGN.md §4)."""

from __future__ import annotations

import html
import logging
import uuid
from dataclasses import dataclass, replace

from sqlalchemy.ext.asyncio import AsyncSession

from app.db.engine import Database
from app.db.repositories.business import BusinessSettingsRepository
from app.db.repositories.customers import CustomerRepository
from app.db.repositories.notifications import NotificationRepository, NotificationToSend
from app.db.repositories.outbox import OutboxRepository
from app.db.repositories.sms_credits import SmsCreditRepository
from app.domain.records import (
    AttemptOutcome,
    CustomerRecord,
    MarketingChannel,
    NotificationScenario,
)
from app.domain.sms import segment_count
from app.services import sms_credits
from app.services.gateways import DeliveryFailed, MessageGateway, OutgoingMessage, gateway_name
from app.services.text import email_key
from app.services.unit_of_work import UnitOfWork, utcnow

log = logging.getLogger(__name__)

# Attempts before a notification that keeps failing transiently is FAILED; with the job's
# backoff (app/jobs/notifications.py) they span two to four minutes by default.
MAX_ATTEMPTS = 5

# Messages meant for one person only: the registration message tells how to sign in to the
# online store (seed 003), so sent to an address another customer also has, it would hand
# that person this account. An address is shared when another customer row has the email
# (emails are not unique: families share one) or the number. Numbers are unique across
# main and other phones, and a merge hands the pointer's number to the survivor, so today
# no number is shared; it is asked anyway, in the same statement, should that change.
PERSONAL_SCENARIOS = frozenset({NotificationScenario.REGISTRATION.value})
SHARED_ADDRESS = "the email or phone is another customer's too; nothing was sent"


async def address_is_shared(
    customers: CustomerRepository, customer_id: uuid.UUID, email: str | None, phone: str | None
) -> bool:
    return await customers.address_held_by_another(
        customer_id, email_key(email) if email else None, phone
    )


async def queue_registration(uow: UnitOfWork, customer: CustomerRecord) -> None:
    """Queue the registration message (seed 003), by email if there is one, else SMS.

    To an address another customer also has, nothing is sent: the notification is kept as
    SKIPPED with the reason, and no job is queued. An SMS reserves its credits here, in the
    customer's transaction; with too few it is SKIPPED (NO_SMS_CREDITS) and the customer is
    created all the same.
    """
    channel = MarketingChannel.EMAIL if customer.email else MarketingChannel.SMS
    scenario = NotificationScenario.REGISTRATION.value
    if await address_is_shared(uow.customers, customer.id, customer.email, customer.phone):
        await uow.notifications.insert(
            customer.id, channel.value, scenario, status="SKIPPED", error=SHARED_ADDRESS
        )
        return
    if channel is MarketingChannel.SMS:
        # The text is composed now to count its segments; the send composes it again (the
        # name may change meanwhile) and settles any difference (_hold_what_it_costs).
        segments = segment_count(sms_text(scenario, customer.name))
        notification_id = await uow.notifications.insert(
            customer.id, channel.value, scenario, sms_credits=segments
        )
        if not await sms_credits.reserve(
            uow.sms_credits, uow.business, notification_id, segments, uow.now
        ):
            await uow.sms_credits.hold_for(notification_id, 0)
            await uow.notifications.settle(
                notification_id, status="SKIPPED", error=sms_credits.NO_SMS_CREDITS
            )
            return
    else:
        notification_id = await uow.notifications.insert(customer.id, channel.value, scenario)
    await uow.enqueue_job("deliver_notification", {"notification_id": str(notification_id)})


@dataclass(frozen=True, slots=True)
class DeliveryOutcome:
    status: str
    retry: bool = False
    # The wait the gateway asked for (HTTP Retry-After); the job caps it.
    retry_after: float | None = None


def _texts(scenario: str, customer_name: str | None) -> tuple[str, str, str]:
    """Subject, plain text and HTML markup of a scenario's message."""
    name = customer_name or "customer"
    if scenario == "REGISTRATION":
        subject = "Welcome"
        body = (
            f"Hello {name}, you are now registered with us. To sign in to the online "
            "store, choose 'Forgot password' to set your password."
        )
        markup = (
            f"<p>Hello {html.escape(name)}, you are now registered with us.</p>"
            "<p>To sign in to the online store, choose <strong>Forgot password</strong> "
            "to set your password.</p>"
        )
    else:
        subject, body = scenario.title(), f"Hello {name}."
        markup = f"<p>Hello {html.escape(name)}.</p>"
    return subject, body, markup


def sms_text(scenario: str, customer_name: str | None) -> str:
    """The text an SMS of this scenario carries: what its credits are counted on."""
    return _texts(scenario, customer_name)[1]


def _compose(item: NotificationToSend) -> OutgoingMessage | None:
    recipient = item.recipient_email if item.channel == "EMAIL" else item.recipient_phone
    if not recipient:
        return None
    subject, body, markup = _texts(item.scenario, item.customer_name)
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


class NotificationDelivery:
    def __init__(self, db: Database, gateway: MessageGateway) -> None:
        self.db = db
        self.gateway = gateway

    async def deliver(self, outbox_id: uuid.UUID, attempt: int) -> DeliveryOutcome:
        """Send the notification an outbox row names, once; a re-run after success does nothing.

        One attempt per call, recorded as a ``notification_attempts`` row; ``attempt`` is
        arq's try number. A transient failure answers ``retry`` (the job defers it), a
        permanent one or the last attempt settles the notification as FAILED.

        Three transactions a delivery (each costs more than a statement on SQLite, see
        bench/notifications.py): the reads; the claim of the attempt (committed before
        the send); the outcome. The reads stay out of the claim's transaction: two runs
        of one job that read the same attempt count race on one conditional update, and
        only one sends (SQLite would serialize a read-and-claim transaction, and the
        second run would see the first's claim as an attempt cut short).
        """
        async with self.db.read() as session:
            message = await OutboxRepository(session).get(outbox_id)
            if message is None:
                return DeliveryOutcome("MISSING")
            notification_id = uuid.UUID(message[1]["notification_id"])
            item = await NotificationRepository(session).get_for_sending(notification_id)
            # Checked again at send time: addresses are read then, and may have changed.
            shared = item is not None and item.status == "QUEUED" and await _shared(session, item)
        async with self.db.write() as session:
            ready = await self._claim(session, outbox_id, notification_id, item, shared)
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

    async def _claim(
        self,
        session: AsyncSession,
        outbox_id: uuid.UUID,
        notification_id: uuid.UUID,
        item: NotificationToSend | None,
        shared: bool,
    ) -> _Ready | DeliveryOutcome:
        """Claim the attempt in the caller's transaction, or settle a notification that is
        not to be sent (the outcome then says why)."""
        if item is None or item.status != "QUEUED":
            await _finish(session, outbox_id, notification_id, None, None)
            return DeliveryOutcome(item.status if item else "MISSING")
        if shared:
            await _finish(session, outbox_id, notification_id, "SKIPPED", SHARED_ADDRESS)
            return DeliveryOutcome("SKIPPED")
        outgoing = _compose(item)
        if outgoing is None:
            await _finish(
                session, outbox_id, notification_id, "SKIPPED", "no address for this channel"
            )
            return DeliveryOutcome("SKIPPED")
        if item.channel == "SMS" and not await _hold_what_it_costs(session, item, outgoing.body):
            await _finish(
                session, outbox_id, notification_id, "SKIPPED", sms_credits.NO_SMS_CREDITS
            )
            return DeliveryOutcome("SKIPPED")
        gateway = gateway_name(self.gateway, item.channel)
        # Committed before the send (the caller's transaction ends first): a worker killed
        # mid-send leaves an attempt with no outcome, and the next run numbers its own
        # attempt after it.
        number = await NotificationRepository(session).begin_attempt(
            item.id, seen_attempts=item.attempts, gateway=gateway, started_at=utcnow()
        )
        if number is None:
            # Another run of this job (arq redelivers after a timeout) claimed the attempt:
            # that run sends, and settles the row.
            return DeliveryOutcome("QUEUED")
        return _Ready(item, outgoing, number, gateway)

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
        notification_id = item.id
        # Only an SMS holds credits (reserved at queue time, adjusted before the send); an
        # email's settlement would be a read that finds none.
        holds_credits = item.channel == "SMS" or bool(item.sms_credits)
        async with self.db.write() as session:
            now = utcnow()
            notifications = NotificationRepository(session)
            await notifications.finish_attempt(
                notification_id, number, outcome=outcome.value, error=error, finished_at=now
            )
            credits = SmsCreditRepository(session)
            if outcome is AttemptOutcome.SENT:
                await notifications.settle(notification_id, status="SENT", error=None, sent_at=now)
                if holds_credits:
                    await sms_credits.settle(credits, notification_id, sent=True, now=now)
            elif final:
                await notifications.settle(notification_id, status="FAILED", error=error)
                if holds_credits:
                    await sms_credits.settle(credits, notification_id, sent=False, now=now)
            else:
                assert error is not None
                await notifications.note_error(notification_id, error)
                return
            await OutboxRepository(session).claim(outbox_id, now)


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


async def _shared(session: AsyncSession, item: NotificationToSend) -> bool:
    if item.scenario not in PERSONAL_SCENARIOS or item.customer_id is None:
        return False
    return await address_is_shared(
        CustomerRepository(session), item.customer_id, item.recipient_email, item.recipient_phone
    )


async def _finish(
    session: AsyncSession,
    outbox_id: uuid.UUID,
    notification_id: uuid.UUID,
    status: str | None,
    error: str | None,
) -> None:
    """Settle a notification that no gateway saw (skipped), and close its outbox row."""
    now = utcnow()
    if status is not None:
        await NotificationRepository(session).settle(notification_id, status=status, error=error)
        await sms_credits.settle(SmsCreditRepository(session), notification_id, sent=False, now=now)
    await OutboxRepository(session).claim(outbox_id, now)
