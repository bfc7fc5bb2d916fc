"""What was sent to customers and how it went (issue 10 §6; names fixed in DESIGN.md §3b)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING

import strawberry

from app.domain import records
from app.domain.notifications import (
    NotificationAttemptRecord,
    NotificationQuery,
    NotificationRecord,
    NotificationStatus,
)
from app.schema import masks
from app.schema.ids import parse_id
from app.schema.pagination import Connection

if TYPE_CHECKING:
    from app.schema.context import Context

strawberry.enum(NotificationStatus)


def masked_destination(channel: str, address: str | None) -> str | None:
    """Always masked, whatever the caller's role: the history shows where a message went,
    enough to recognise; the full address is the customer's own field, shown with
    CUSTOMER_VIEW_PII. A delivery log is read by people chasing failures, not contacting."""
    return (
        masks.email(address) if channel == records.MarketingChannel.EMAIL else masks.phone(address)
    )


@strawberry.type(description="One hand-over of a notification to a gateway.")
class NotificationAttempt:
    number: int = strawberry.field(description="1 for the first attempt.")
    gateway: str = strawberry.field(description="e.g. smtp, http-sms, console.")
    outcome: str | None = strawberry.field(
        description="SENT, TRANSIENT (retried later) or PERMANENT; null while the send is "
        "under way, or when the worker stopped before it ended."
    )
    error: str | None = strawberry.field(
        description="What the gateway answered, with any address taken out."
    )
    started_at: datetime
    finished_at: datetime | None

    @classmethod
    def from_record(cls, r: NotificationAttemptRecord) -> NotificationAttempt:
        return cls(
            number=r.number,
            gateway=r.gateway,
            outcome=r.outcome,
            error=r.error,
            started_at=r.started_at,
            finished_at=r.finished_at,
        )


async def _attempt_history(
    root: Notification, info: strawberry.Info[Context, None]
) -> list[NotificationAttempt]:
    found = await info.context.loaders.attempts_by_notification_id.load(uuid.UUID(root.id))
    return [NotificationAttempt.from_record(a) for a in found]


@strawberry.type(description="A message to a customer (email or SMS) and how its delivery went.")
class Notification:
    id: strawberry.ID
    customer_id: strawberry.ID | None = strawberry.field(
        description="Null when the customer was deleted since."
    )
    channel: records.MarketingChannel
    scenario: records.NotificationScenario
    status: NotificationStatus
    attempts: int = strawberry.field(description="Sends started; see attemptHistory.")
    last_error: str | None = strawberry.field(
        description="Why the last attempt failed or why nothing was sent; never an address."
    )
    created_at: datetime
    sent_at: datetime | None
    destination: str | None = strawberry.field(
        description="The customer's email (EMAIL) or phone (SMS) as it is now, masked for "
        "every role (a•••@example.com, +1•••••••0123); null when there is none."
    )
    attempt_history: list[NotificationAttempt] = strawberry.field(
        resolver=_attempt_history, description="Every attempt, first to last."
    )

    @classmethod
    def from_record(cls, r: NotificationRecord) -> Notification:
        return cls(
            id=strawberry.ID(str(r.id)),
            customer_id=strawberry.ID(str(r.customer_id)) if r.customer_id else None,
            channel=records.MarketingChannel(r.channel),
            scenario=records.NotificationScenario(r.scenario),
            status=NotificationStatus(r.status),
            attempts=r.attempts,
            last_error=r.last_error,
            created_at=r.created_at,
            sent_at=r.sent_at,
            destination=masked_destination(r.channel, r.destination),
        )


NotificationConnection = Connection[Notification]


@strawberry.input(description="Each field given narrows the list; none: every notification.")
class NotificationFilter:
    status: NotificationStatus | None = None
    channel: records.MarketingChannel | None = None
    scenario: records.NotificationScenario | None = None
    customer_id: strawberry.ID | None = None

    def to_query(self) -> NotificationQuery:
        return NotificationQuery(
            status=self.status.value if self.status else None,
            channel=self.channel.value if self.channel else None,
            scenario=self.scenario.value if self.scenario else None,
            customer_id=parse_id(self.customer_id) if self.customer_id is not None else None,
        )
