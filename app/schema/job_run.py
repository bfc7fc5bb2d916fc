"""Scheduled job runs, for operators (issue 11 §1)."""

from __future__ import annotations

from datetime import datetime
from typing import cast

import strawberry
from strawberry.scalars import JSON

from app.domain.records import JobRunRecord
from app.schema.pagination import Connection


@strawberry.type(description="One run of a scheduled job: its slot, timing, outcome.")
class JobRun:
    id: strawberry.ID
    job_name: str
    scheduled_for: datetime = strawberry.field(description="The slot this run did.")
    started_at: datetime
    finished_at: datetime | None
    rows_touched: int | None
    error: str | None = strawberry.field(
        description="A failed run's error; its work was rolled back and the slot runs again."
    )
    result: JSON | None

    @classmethod
    def from_record(cls, r: JobRunRecord) -> JobRun:
        return cls(
            id=strawberry.ID(str(r.id)),
            job_name=r.job_name,
            scheduled_for=r.scheduled_for,
            started_at=r.started_at,
            finished_at=r.finished_at,
            rows_touched=r.rows_touched,
            error=r.error,
            result=cast(JSON, r.result),
        )


JobRunConnection = Connection[JobRun]
