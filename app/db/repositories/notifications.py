from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    Table,
    and_,
    bindparam,
    case,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import Customer, Notification, NotificationAttempt
from app.db.repositories.paging import (
    encode_cursor,
    group_by,
    pages_by_parent,
    time_and_id_cursor,
)
from app.domain.notifications import (
    NotificationAttemptRecord,
    NotificationQuery,
    NotificationRecord,
)
from app.domain.records import Page


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


# The customer's address for the notification's channel, read in the page's own statement.
_DESTINATION = case((Notification.channel == "EMAIL", Customer.email), else_=Customer.phone).label(
    "destination"
)
_NEWEST_FIRST = (Notification.created_at.desc(), Notification.id.desc())


def _record(row: Notification, destination: str | None) -> NotificationRecord:
    return NotificationRecord(
        id=row.id,
        customer_id=row.customer_id,
        channel=row.channel,
        scenario=row.scenario,
        status=row.status,
        attempts=row.attempts,
        last_error=row.error,
        created_at=row.created_at,
        sent_at=row.sent_at,
        destination=destination,
    )


def _cursor(record: NotificationRecord) -> str:
    return encode_cursor(record.created_at.isoformat(), record.id.hex)


def _before(cursor: str) -> ColumnElement[bool]:
    """Rows after the cursor in ``ORDER BY created_at DESC, id DESC`` (newest first)."""
    at, last_id = time_and_id_cursor(cursor)
    created = Notification.created_at
    return or_(created < at, and_(created == at, Notification.id < last_id))


def _conditions(query: NotificationQuery) -> list[ColumnElement[bool]]:
    wanted: dict[str, Any] = {
        "status": query.status,
        "channel": query.channel,
        "scenario": query.scenario,
        "customer_id": query.customer_id,
    }
    return [getattr(Notification, k) == v for k, v in wanted.items() if v is not None]


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
        return (await self.get_many_for_sending([notification_id])).get(notification_id)

    async def get_many_for_sending(
        self, notification_ids: list[uuid.UUID]
    ) -> dict[uuid.UUID, NotificationToSend]:
        found = await self.session.execute(
            select(Notification, Customer.email, Customer.phone, Customer.name)
            .outerjoin(Customer, Customer.id == Notification.customer_id)
            .where(Notification.id.in_(notification_ids))
        )
        return {
            row.id: NotificationToSend(
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
            for row, email, phone, name in found.all()
        }

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

    async def begin_attempts(
        self, claims: list[tuple[uuid.UUID, int, str]], *, started_at: datetime
    ) -> set[uuid.UUID]:
        """``begin_attempt`` for many (id, seen attempts, gateway) at once: the ids claimed.

        One conditional update per distinct attempt count seen (usually one: first tries),
        then the attempt rows in one insert. Each id at most once.
        """
        claimed: set[uuid.UUID] = set()
        seen_counts: dict[int, list[uuid.UUID]] = {}
        for notification_id, seen, _ in claims:
            seen_counts.setdefault(seen, []).append(notification_id)
        for seen, ids in seen_counts.items():
            result = await self.session.execute(
                update(Notification)
                .where(
                    Notification.id.in_(ids),
                    Notification.status == "QUEUED",
                    Notification.attempts == seen,
                )
                .values(attempts=Notification.attempts + 1)
                .returning(Notification.id)
            )
            claimed.update(result.scalars())
        rows = [
            {
                "notification_id": notification_id,
                "number": seen + 1,
                "gateway": gateway,
                "started_at": started_at,
            }
            for notification_id, seen, gateway in claims
            if notification_id in claimed
        ]
        if rows:
            await self.session.execute(insert(NotificationAttempt), rows)
        return claimed

    async def finish_sent(self, sent: list[tuple[uuid.UUID, int]], *, at: datetime) -> None:
        """Close many attempts as SENT and settle their notifications SENT, in two statements."""
        # The table, not the mapped class: a Core executemany (one statement, many rows).
        attempts = cast(Table, NotificationAttempt.__table__)
        await self.session.execute(
            update(attempts)
            .where(
                attempts.c.notification_id == bindparam("b_id"),
                attempts.c.number == bindparam("b_number"),
            )
            .values(outcome="SENT", error=None, finished_at=at),
            [{"b_id": notification_id, "b_number": number} for notification_id, number in sent],
        )
        await self.session.execute(
            update(Notification)
            .where(
                Notification.id.in_([notification_id for notification_id, _ in sent]),
                Notification.status == "QUEUED",
            )
            .values(status="SENT", error=None, sent_at=at)
        )

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

    async def sent_since(
        self, customer_id: uuid.UUID, scenario: str, since: datetime
    ) -> tuple[int, datetime | None]:
        """How many of a scenario's messages were queued for a customer since ``since``, and
        when the last was (the customer's index, then a short range)."""
        count, last = (
            await self.session.execute(
                select(func.count(), func.max(Notification.created_at)).where(
                    Notification.customer_id == customer_id,
                    Notification.scenario == scenario,
                    Notification.created_at >= since,
                )
            )
        ).one()
        return int(count), last

    async def statuses_for_customer(self, customer_id: uuid.UUID) -> list[tuple[str, str, str]]:
        rows = await self.session.execute(
            select(Notification.scenario, Notification.channel, Notification.status)
            .where(Notification.customer_id == customer_id)
            .order_by(Notification.created_at)
        )
        return [(row[0], row[1], row[2]) for row in rows]

    # -- the history (issue 10 §6) -------------------------------------------------

    async def page(
        self, query: NotificationQuery, first: int, after: str | None
    ) -> Page[NotificationRecord]:
        """Notifications matching ``query``, newest first."""
        where = _conditions(query)
        total = await self.session.scalar(
            select(func.count()).select_from(Notification).where(*where)
        )
        if after is not None:
            where.append(_before(after))
        rows = (
            await self.session.execute(
                select(Notification, _DESTINATION)
                .outerjoin(Customer, Customer.id == Notification.customer_id)
                .where(*where)
                .order_by(*_NEWEST_FIRST)
                .limit(first + 1)
            )
        ).all()
        records = [_record(row, destination) for row, destination in rows]
        return Page(
            items=[(_cursor(r), r) for r in records[:first]],
            has_next=len(records) > first,
            total=total or 0,
        )

    async def pages_by_customer(
        self, customer_ids: list[uuid.UUID], first: int, after: str | None
    ) -> dict[uuid.UUID, Page[NotificationRecord]]:
        """Newest-first pages for many customers in two statements (no N+1 in lists)."""
        conditions: list[ColumnElement[bool]] = [Notification.customer_id.in_(customer_ids)]
        counted = await self.session.execute(
            select(Notification.customer_id, func.count())
            .where(*conditions)
            .group_by(Notification.customer_id)
        )
        totals: dict[uuid.UUID, int] = {k: n for k, n in counted.all() if k is not None}
        if after is not None:
            conditions.append(_before(after))
        rank = (
            func.row_number()
            .over(partition_by=Notification.customer_id, order_by=_NEWEST_FIRST)
            .label("rank")
        )
        ranked = select(Notification.id, rank).where(*conditions).subquery()
        rows = (
            await self.session.execute(
                select(Notification, _DESTINATION)
                .join(ranked, ranked.c.id == Notification.id)
                .outerjoin(Customer, Customer.id == Notification.customer_id)
                .where(ranked.c.rank <= first + 1)
                .order_by(Notification.customer_id, *_NEWEST_FIRST)
            )
        ).all()
        # Every row has a customer id: the IN above asked for them.
        found = group_by(
            (_record(row, destination) for row, destination in rows),
            lambda r: cast(uuid.UUID, r.customer_id),
        )
        return pages_by_parent(customer_ids, found, first, totals, _cursor)

    async def attempts_for(
        self, notification_ids: list[uuid.UUID]
    ) -> dict[uuid.UUID, list[NotificationAttemptRecord]]:
        """Each notification's attempts in the order they were made, in one statement."""
        rows = await self.session.scalars(
            select(NotificationAttempt)
            .where(NotificationAttempt.notification_id.in_(notification_ids))
            .order_by(NotificationAttempt.notification_id, NotificationAttempt.number)
        )
        return dict(
            group_by(
                (
                    NotificationAttemptRecord(
                        notification_id=r.notification_id,
                        number=r.number,
                        gateway=r.gateway,
                        outcome=r.outcome,
                        error=r.error,
                        started_at=r.started_at,
                        finished_at=r.finished_at,
                    )
                    for r in rows
                ),
                lambda a: a.notification_id,
            )
        )

    async def totals(self) -> list[tuple[str, str, str, int]]:
        """(channel, scenario, status, count) over every notification: one GROUP BY."""
        rows = await self.session.execute(
            select(
                Notification.channel, Notification.scenario, Notification.status, func.count()
            ).group_by(Notification.channel, Notification.scenario, Notification.status)
        )
        return [(row[0], row[1], row[2], row[3]) for row in rows]
