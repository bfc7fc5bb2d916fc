from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import Customer, Notification, NotificationAttempt


@dataclass(frozen=True, slots=True)
class NotificationToSend:
    id: uuid.UUID
    customer_id: uuid.UUID | None
    channel: str
    scenario: str
    status: str
    attempts: int
    # Read at send time, so a changed email or phone is honoured.
    recipient_email: str | None
    recipient_phone: str | None
    customer_name: str | None
    # SMS credits held since the notification was queued (issue 10 §2).
    sms_credits: int = 0


class NotificationRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def insert(
        self,
        customer_id: uuid.UUID,
        channel: str,
        scenario: str,
        *,
        status: str = "QUEUED",
        error: str | None = None,
        sms_credits: int = 0,
    ) -> uuid.UUID:
        row = Notification(
            customer_id=customer_id,
            channel=channel,
            scenario=scenario,
            status=status,
            error=error,
            sms_credits=sms_credits,
        )
        self.session.add(row)
        await self.session.flush()
        return row.id

    async def get_for_sending(self, notification_id: uuid.UUID) -> NotificationToSend | None:
        found = (
            await self.session.execute(
                select(Notification, Customer.email, Customer.phone, Customer.name)
                .outerjoin(Customer, Customer.id == Notification.customer_id)
                .where(Notification.id == notification_id)
            )
        ).one_or_none()
        if found is None:
            return None
        row, email, phone, name = found
        return NotificationToSend(
            id=row.id,
            customer_id=row.customer_id,
            channel=row.channel,
            scenario=row.scenario,
            status=row.status,
            attempts=row.attempts,
            recipient_email=email,
            recipient_phone=phone,
            customer_name=name,
            sms_credits=row.sms_credits,
        )

    async def begin_attempt(
        self,
        notification_id: uuid.UUID,
        *,
        seen_attempts: int,
        gateway: str,
        started_at: datetime,
    ) -> int | None:
        """Claim the next attempt's number, or None when another run claimed it or it is final.

        The conditional update is the claim (no row locks, which SQLite lacks): of two runs
        that read the same count, one alone moves it on.
        """
        result = await self.session.execute(
            update(Notification)
            .where(
                Notification.id == notification_id,
                Notification.status == "QUEUED",
                Notification.attempts == seen_attempts,
            )
            .values(attempts=Notification.attempts + 1)
        )
        if not result.rowcount:  # type: ignore[attr-defined]
            return None
        number = seen_attempts + 1
        self.session.add(
            NotificationAttempt(
                notification_id=notification_id,
                number=number,
                gateway=gateway,
                started_at=started_at,
            )
        )
        await self.session.flush()
        return number

    async def finish_attempt(
        self,
        notification_id: uuid.UUID,
        number: int,
        *,
        outcome: str,
        error: str | None,
        finished_at: datetime,
    ) -> None:
        await self.session.execute(
            update(NotificationAttempt)
            .where(
                NotificationAttempt.notification_id == notification_id,
                NotificationAttempt.number == number,
            )
            .values(outcome=outcome, error=error, finished_at=finished_at)
        )

    async def settle(
        self,
        notification_id: uuid.UUID,
        *,
        status: str,
        error: str | None,
        sent_at: datetime | None = None,
    ) -> bool:
        """Set the final status unless the notification already has one."""
        result = await self.session.execute(
            update(Notification)
            .where(Notification.id == notification_id, Notification.status == "QUEUED")
            .values(status=status, error=error, sent_at=sent_at)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def note_error(self, notification_id: uuid.UUID, error: str) -> None:
        """Keep a transient failure's reason on a notification that waits for its retry."""
        await self.session.execute(
            update(Notification)
            .where(Notification.id == notification_id, Notification.status == "QUEUED")
            .values(error=error)
        )

    async def statuses_for_customer(self, customer_id: uuid.UUID) -> list[tuple[str, str, str]]:
        rows = await self.session.execute(
            select(Notification.scenario, Notification.channel, Notification.status)
            .where(Notification.customer_id == customer_id)
            .order_by(Notification.created_at)
        )
        return [(row[0], row[1], row[2]) for row in rows]
