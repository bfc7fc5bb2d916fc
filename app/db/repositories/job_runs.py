from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import JobRun


class JobRunRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def claim(
        self, job_name: str, scheduled_for: datetime, started_at: datetime
    ) -> uuid.UUID | None:
        """Insert the run's row; None when another run holds the slot.

        ON CONFLICT DO NOTHING rather than catching IntegrityError: a failed insert would
        abort a PostgreSQL transaction. A concurrent claim waits for the holder's
        transaction and then sees the conflict, or takes the slot if the holder rolled back.
        """
        dialect = self.session.get_bind().dialect.name
        dialect_insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        stmt = (
            dialect_insert(JobRun)
            .values(
                id=uuid.uuid4(),
                job_name=job_name,
                scheduled_for=scheduled_for,
                started_at=started_at,
            )
            .on_conflict_do_nothing(index_elements=["job_name", "scheduled_for"])
            .returning(JobRun.id)
        )
        claimed: uuid.UUID | None = (await self.session.execute(stmt)).scalar_one_or_none()
        return claimed

    async def finish(
        self, run_id: uuid.UUID, finished_at: datetime, result: dict[str, Any]
    ) -> None:
        await self.session.execute(
            update(JobRun).where(JobRun.id == run_id).values(finished_at=finished_at, result=result)
        )
