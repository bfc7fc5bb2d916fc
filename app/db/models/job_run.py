from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.db.base import Base
from app.db.models._columns import created_at, uuid_pk
from app.db.types import UTCDateTime


class JobRun(Base):
    """A scheduled job's run: unique per job and slot, so two workers never both run it."""

    __tablename__ = "job_runs"
    __table_args__ = (Index("uq_job_runs_slot", "job_name", "scheduled_for", unique=True),)

    id: Mapped[uuid.UUID] = uuid_pk()
    job_name: Mapped[str] = mapped_column(String(64))
    scheduled_for: Mapped[datetime] = mapped_column(UTCDateTime())
    started_at: Mapped[datetime] = created_at()
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # The result's "rows": what the run changed, for operators (jobRuns).
    rows_touched: Mapped[int | None] = mapped_column(Integer)
    # A failed run: its work rolled back, this row alone was written, and the slot may be
    # taken again by the next run (JobRunRepository.claim).
    error: Mapped[str | None] = mapped_column(Text)
