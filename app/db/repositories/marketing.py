"""SQL for marketing sends: campaigns, their recipients, their fan-out, the signing key."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, and_, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.base import table_of
from app.db.models import (
    Customer,
    CustomerGroupMember,
    CustomerSegmentRow,
    MarketingCampaign,
    MarketingConsent,
    MarketingSigningKey,
    Notification,
    OutboxMessage,
)
from app.domain.marketing import CampaignRecord
from app.domain.records import ConsentState, CustomerStatus, MarketingChannel, NotificationScenario
from app.domain.segments import CustomerSegment

KEY_ROW = 1
DELIVERY_JOB = "deliver_notification"


@dataclass(frozen=True, slots=True)
class Audience:
    """Whom a send reaches: ``recipients`` get the message, ``skipped`` were targeted but
    cannot be sent to (not subscribed, no address for the channel, not active)."""

    recipients: list[uuid.UUID]
    skipped: int


@dataclass(frozen=True, slots=True)
class UnsubscribeTarget:
    customer_id: uuid.UUID
    channel: MarketingChannel


def _record(row: MarketingCampaign) -> CampaignRecord:
    return CampaignRecord(
        id=row.id,
        channel=MarketingChannel(row.channel),
        group_id=row.group_id,
        subject=row.subject,
        body=row.body,
        recipients=row.recipients,
        skipped=row.skipped,
        sms_segments=row.sms_segments,
        created_by=row.created_by,
        created_at=row.created_at,
        fanned_out_at=row.fanned_out_at,
    )


def _address(channel: MarketingChannel) -> ColumnElement[bool]:
    column = Customer.email if channel is MarketingChannel.EMAIL else Customer.phone
    return and_(column.is_not(None), column != "")


class MarketingRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    # -- the audience -----------------------------------------------------------------

    async def audience(
        self,
        channel: MarketingChannel,
        group_id: uuid.UUID | None,
        segment: CustomerSegment | None = None,
    ) -> Audience:
        """One statement: every targeted customer, and whether they can be sent to.

        Targeted: the group's members, the segment's customers (as last classified), or
        without either every customer subscribed on the channel. MERGED pointers are not
        customers and are never counted.
        """
        subscribed = and_(
            MarketingConsent.customer_id == Customer.id,
            MarketingConsent.channel == channel.value,
            MarketingConsent.state == ConsentState.SUBSCRIBED.value,
        )
        sendable = and_(
            MarketingConsent.customer_id.is_not(None),
            Customer.status == CustomerStatus.ACTIVE.value,
            _address(channel),
        )
        query = select(Customer.id, sendable.label("sendable")).where(
            Customer.merged_into_id.is_(None), Customer.status != CustomerStatus.MERGED.value
        )
        if segment is not None:
            query = query.join(
                CustomerSegmentRow,
                and_(
                    CustomerSegmentRow.customer_id == Customer.id,
                    CustomerSegmentRow.segment == segment.value,
                ),
            ).outerjoin(MarketingConsent, subscribed)
        elif group_id is None:
            query = query.join(MarketingConsent, subscribed)
        else:
            query = query.join(
                CustomerGroupMember,
                and_(
                    CustomerGroupMember.customer_id == Customer.id,
                    CustomerGroupMember.group_id == group_id,
                ),
            ).outerjoin(MarketingConsent, subscribed)
        # Ordered so that notification rows go in in key order (cheaper index inserts).
        rows = (await self.session.execute(query.order_by(Customer.id))).all()
        recipients = [customer_id for customer_id, ok in rows if ok]
        return Audience(recipients=recipients, skipped=len(rows) - len(recipients))

    # -- campaigns --------------------------------------------------------------------

    async def insert_campaign(
        self,
        campaign_id: uuid.UUID,
        *,
        channel: MarketingChannel,
        group_id: uuid.UUID | None,
        segment: CustomerSegment | None = None,
        subject: str | None,
        body: str,
        recipients: int,
        skipped: int,
        sms_segments: int,
        created_by_id: str | None,
        created_by: str,
        now: datetime,
    ) -> None:
        self.session.add(
            MarketingCampaign(
                id=campaign_id,
                channel=channel.value,
                group_id=group_id,
                segment=segment.value if segment else None,
                subject=subject,
                body=body,
                recipients=recipients,
                skipped=skipped,
                sms_segments=sms_segments,
                created_by_id=created_by_id,
                created_by=created_by,
                created_at=now,
            )
        )
        await self.session.flush()

    async def get_campaign(self, campaign_id: uuid.UUID) -> CampaignRecord | None:
        row = await self.session.get(MarketingCampaign, campaign_id)
        return _record(row) if row else None

    async def insert_notifications(
        self,
        campaign_id: uuid.UUID,
        channel: MarketingChannel,
        customer_ids: list[uuid.UUID],
        sms_segments: int,
        now: datetime,
    ) -> None:
        """One QUEUED notification per recipient, as one executemany (no ORM per row)."""
        if not customer_ids:
            return
        # Ids in ascending order: the rows then go into the primary key and the campaign
        # index at their right-hand end instead of at random places.
        ids = sorted(uuid.uuid4() for _ in customer_ids)
        await self.session.execute(
            insert(table_of(Notification)),
            [
                {
                    "id": notification_id,
                    "customer_id": customer_id,
                    "channel": channel.value,
                    "scenario": NotificationScenario.MARKETING.value,
                    "status": "QUEUED",
                    "attempts": 0,
                    "sms_credits": sms_segments,
                    "campaign_id": campaign_id,
                    "created_at": now,
                }
                for notification_id, customer_id in zip(ids, customer_ids, strict=True)
            ],
        )

    # -- fan-out ----------------------------------------------------------------------

    async def queue_deliveries(
        self,
        campaign_id: uuid.UUID,
        limit: int,
        now: datetime,
        after: uuid.UUID | None = None,
    ) -> list[uuid.UUID]:
        """Write delivery outbox rows for up to ``limit`` of the campaign's notifications
        that have none yet; the outbox ids written.

        The outbox row's id is the notification's own: a re-run (a crash between batches,
        arq delivering the fan-out twice) finds the rows it wrote and never writes a
        second one, so no recipient is lost or sent to twice. ``after``: the last id of the
        previous batch, so each batch is a range of ``ix_notifications_campaign_id``.
        """
        conditions = [Notification.id > after] if after is not None else []
        pending = (
            await self.session.scalars(
                select(Notification.id)
                .outerjoin(OutboxMessage, OutboxMessage.id == Notification.id)
                .where(
                    Notification.campaign_id == campaign_id,
                    Notification.status == "QUEUED",
                    OutboxMessage.id.is_(None),
                    *conditions,
                )
                .order_by(Notification.id)
                .limit(limit)
            )
        ).all()
        if pending:
            await self.session.execute(
                insert(table_of(OutboxMessage)),
                [
                    {
                        "id": notification_id,
                        "job_name": DELIVERY_JOB,
                        "payload": {"notification_id": str(notification_id)},
                        "created_at": now,
                        "enqueue_attempts": 0,
                    }
                    for notification_id in pending
                ],
            )
        return list(pending)

    async def mark_fanned_out(self, campaign_id: uuid.UUID, now: datetime) -> None:
        await self.session.execute(
            update(MarketingCampaign)
            .where(MarketingCampaign.id == campaign_id, MarketingCampaign.fanned_out_at.is_(None))
            .values(fanned_out_at=now)
        )

    # -- delivery and unsubscribe -----------------------------------------------------

    async def campaign_of(self, notification_id: uuid.UUID) -> CampaignRecord | None:
        row = (
            await self.session.scalars(
                select(MarketingCampaign)
                .join(Notification, Notification.campaign_id == MarketingCampaign.id)
                .where(Notification.id == notification_id)
            )
        ).one_or_none()
        return _record(row) if row else None

    async def still_sendable(self, customer_id: uuid.UUID, channel: MarketingChannel) -> bool:
        """Subscribed and active now: an unsubscribe after the send was queued still counts."""
        found = await self.session.scalar(
            select(func.count())
            .select_from(Customer)
            .join(
                MarketingConsent,
                and_(
                    MarketingConsent.customer_id == Customer.id,
                    MarketingConsent.channel == channel.value,
                ),
            )
            .where(
                Customer.id == customer_id,
                Customer.status == CustomerStatus.ACTIVE.value,
                MarketingConsent.state == ConsentState.SUBSCRIBED.value,
            )
        )
        return bool(found)

    async def unsubscribe_target(self, notification_id: uuid.UUID) -> UnsubscribeTarget | None:
        """The customer and channel of a marketing notification; None for any other."""
        row = (
            await self.session.execute(
                select(Notification.customer_id, Notification.channel).where(
                    Notification.id == notification_id,
                    Notification.scenario == NotificationScenario.MARKETING.value,
                )
            )
        ).one_or_none()
        if row is None or row[0] is None:
            return None
        return UnsubscribeTarget(customer_id=row[0], channel=MarketingChannel(row[1]))

    async def signing_key(self) -> bytes:
        key = await self.session.scalar(
            select(MarketingSigningKey.key).where(MarketingSigningKey.id == KEY_ROW)
        )
        if key is None:  # the migration creates it
            raise LookupError("no marketing signing key: run `poscrm migrate`")
        return bytes.fromhex(key)
