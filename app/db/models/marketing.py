from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.db.base import Base
from app.db.models._columns import created_at, uuid_pk
from app.db.types import UTCDateTime


class MarketingCampaign(Base):
    """One ``marketingMessageSend`` (issue 10 §4): the shop's text and whom it went to.

    Its notifications (``notifications.campaign_id``) are the recipients, fixed when the
    campaign is created; a fan-out job hands them to delivery in batches.
    """

    __tablename__ = "marketing_campaigns"

    id: Mapped[uuid.UUID] = uuid_pk()
    channel: Mapped[str] = mapped_column(String(8))
    # The group targeted; None: every customer subscribed on the channel. A deleted group
    # leaves the campaign (its notifications are the record of whom it reached).
    group_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("customer_groups.id", ondelete="SET NULL")
    )
    # The customer segment targeted instead (issue 11 §3), as it stood at the send.
    segment: Mapped[str | None] = mapped_column(String(8))
    subject: Mapped[str | None] = mapped_column(String(150))
    body: Mapped[str] = mapped_column(Text)
    recipients: Mapped[int] = mapped_column(Integer)
    skipped: Mapped[int] = mapped_column(Integer)
    # Segments each SMS holds (0 for email): recipients x this were reserved at once.
    sms_segments: Mapped[int] = mapped_column(Integer, default=0)
    created_by_id: Mapped[str | None] = mapped_column(String(64))
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = created_at()
    # Set when the fan-out job has handed every notification to the outbox.
    fanned_out_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class MarketingSigningKey(Base):
    """The key unsubscribe tokens are signed with: one row (id 1), made by migration 0013.

    In the database because every API process and worker must sign and check with the
    same key, and the database is what they all share; never served, never logged.
    """

    __tablename__ = "marketing_signing_key"

    id: Mapped[int] = mapped_column(primary_key=True)
    # 32 random bytes, hex.
    key: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = created_at()
