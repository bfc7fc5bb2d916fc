from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db.base import Base
from app.db.models._columns import created_at, uuid_pk
from app.db.types import UTCDateTime


class OutboxMessage(Base):
    """A job written in the same transaction as the change that asks for it (DESIGN.md §4)."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_pending", "enqueued_at", "created_at"),)

    id: Mapped[uuid.UUID] = uuid_pk()
    job_name: Mapped[str] = mapped_column(String(100))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = created_at()
    # Set once arq accepted the job; the relay re-enqueues rows still NULL.
    enqueued_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    enqueue_attempts: Mapped[int] = mapped_column(default=0)
    # Set by the job itself, in its own transaction: the record that it ran.
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
