from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.db.base import Base
from app.db.models._columns import created_at, uuid_pk
from app.db.types import UTCDateTime


class Notification(Base):
    __tablename__ = "notifications"
    # A campaign's notifications in id order: the fan-out walks them in keyset batches.
    __table_args__ = (Index("ix_notifications_campaign_id", "campaign_id", "id"),)

    id: Mapped[uuid.UUID] = uuid_pk()
    customer_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("customers.id", ondelete="SET NULL"), index=True
    )
    channel: Mapped[str] = mapped_column(String(8))
    scenario: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="QUEUED")
    # How many sends were started: one notification_attempts row each.
    attempts: Mapped[int] = mapped_column(default=0)
    # The last attempt's error, kept while a transient failure waits for its retry.
    error: Mapped[str | None] = mapped_column(Text)
    # SMS credits (segments) held for this message since it was queued (issue 10 §2); 0
    # once they are spent or released, and always 0 for email.
    sms_credits: Mapped[int] = mapped_column(default=0, server_default="0")
    # The marketing campaign this message belongs to (issue 10 §4); its text is there.
    campaign_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("marketing_campaigns.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = created_at()
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class NotificationAttempt(Base):
    """One hand-over to a gateway (issue 10 §1): written when it starts, closed when it ends.

    A row with no outcome is a send that a worker did not live to finish.
    """

    __tablename__ = "notification_attempts"

    notification_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("notifications.id", ondelete="CASCADE"), primary_key=True
    )
    number: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    gateway: Mapped[str] = mapped_column(String(32))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # SENT, TRANSIENT or PERMANENT (AttemptOutcome); NULL while the send is under way.
    outcome: Mapped[str | None] = mapped_column(String(16))
    # What the gateway answered, with the address taken out (never personal data).
    error: Mapped[str | None] = mapped_column(Text)
