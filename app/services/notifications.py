"""Notification delivery: one attempt per job run, the database row is the record (DESIGN.md §4)."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass

from app.db.engine import Database
from app.db.repositories.notifications import NotificationRepository, NotificationToSend
from app.db.repositories.outbox import OutboxRepository
from app.services.gateways import DeliveryFailed, MessageGateway, OutgoingMessage
from app.services.unit_of_work import utcnow

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 5


@dataclass(frozen=True, slots=True)
class DeliveryOutcome:
    status: str
    retry: bool = False


def _compose(item: NotificationToSend) -> OutgoingMessage | None:
    recipient = item.recipient_email if item.channel == "EMAIL" else item.recipient_phone
    if not recipient:
        return None
    name = item.customer_name or "customer"
    if item.scenario == "REGISTRATION":
        subject = "Welcome"
        body = (
            f"Hello {name}, you are now registered with us. To sign in to the online "
            "store, choose 'Forgot password' to set your password."
        )
    else:
        subject, body = item.scenario.title(), f"Hello {name}."
    return OutgoingMessage(channel=item.channel, recipient=recipient, subject=subject, body=body)


class NotificationDelivery:
    def __init__(self, db: Database, gateway: MessageGateway) -> None:
        self.db = db
        self.gateway = gateway

    async def deliver(self, outbox_id: uuid.UUID, attempt: int) -> DeliveryOutcome:
        """Send the notification an outbox row names, once; a re-run after success does nothing."""
        async with self.db.read() as session:
            message = await OutboxRepository(session).get(outbox_id)
            if message is None:
                return DeliveryOutcome("MISSING")
            notification_id = uuid.UUID(message[1]["notification_id"])
            item = await NotificationRepository(session).get_for_sending(notification_id)
        if item is None or item.status != "QUEUED":
            await self._finish(outbox_id, notification_id, None, None)
            return DeliveryOutcome(item.status if item else "MISSING")
        outgoing = _compose(item)
        if outgoing is None:
            await self._finish(outbox_id, notification_id, "SKIPPED", "no address for this channel")
            return DeliveryOutcome("SKIPPED")
        try:
            await self.gateway.send(outgoing)
        except DeliveryFailed as failure:
            if failure.permanent or attempt >= MAX_ATTEMPTS:
                await self._finish(outbox_id, notification_id, "FAILED", str(failure))
                return DeliveryOutcome("FAILED")
            log.warning("notification delivery failed, will retry", extra={"attempt": attempt})
            return DeliveryOutcome("QUEUED", retry=True)
        await self._finish(outbox_id, notification_id, "SENT", None)
        return DeliveryOutcome("SENT")

    async def _finish(
        self,
        outbox_id: uuid.UUID,
        notification_id: uuid.UUID,
        status: str | None,
        error: str | None,
    ) -> None:
        async with self.db.write() as session:
            now = utcnow()
            if status is not None:
                await NotificationRepository(session).record_attempt(
                    notification_id,
                    status=status,
                    error=error,
                    sent_at=now if status == "SENT" else None,
                )
            await OutboxRepository(session).claim(outbox_id, now)
