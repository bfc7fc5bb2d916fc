from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.base import conflict_insert
from app.db.models import JobRun
from app.db.repositories.paging import encode_cursor, time_and_id_cursor
from app.domain.records import JobRunRecord, Page

ERROR_LENGTH = 2000


def _record(row: JobRun) -> JobRunRecord:
    return JobRunRecord(
        id=row.id,
        job_name=row.job_name,
        scheduled_for=row.scheduled_for,
        started_at=row.started_at,
        finished_at=row.finished_at,
        rows_touched=row.rows_touched,
        error=row.error,
        result=row.result,
    )


class JobRunRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def _insert(self) -> Any:
        return conflict_insert(self.session.get_bind().dialect.name)

    async def claim(
        self, job_name: str, scheduled_for: datetime, started_at: datetime
    ) -> uuid.UUID | None:
        """Insert the run's row; None when another run holds the slot or has done it.

        ON CONFLICT DO NOTHING rather than catching IntegrityError: a failed insert would
        abort a PostgreSQL transaction. A concurrent claim waits for the holder's
        transaction and then sees the conflict, or takes the slot if the holder rolled back.
        A slot whose last run failed is taken again, under the row's lock.
        """
        stmt = (
            self._insert()(JobRun)
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
        if claimed is not None:
            return claimed
        retaken: uuid.UUID | None = (
            await self.session.execute(
                update(JobRun)
                .where(
                    JobRun.job_name == job_name,
                    JobRun.scheduled_for == scheduled_for,
                    JobRun.error.is_not(None),
                )
                .values(started_at=started_at, finished_at=None, error=None, result=None)
                .returning(JobRun.id)
            )
        ).scalar_one_or_none()
        return retaken

    async def finish(
        self, run_id: uuid.UUID, finished_at: datetime, result: dict[str, Any]
    ) -> None:
        rows = result.get("rows")
        await self.session.execute(
            update(JobRun)
            .where(JobRun.id == run_id)
            .values(
                finished_at=finished_at,
                result=result,
                rows_touched=rows if isinstance(rows, int) else None,
            )
        )

    async def record_failure(
        self, job_name: str, scheduled_for: datetime, at: datetime, error: str
    ) -> None:
        """Keep a failed run's error; never over a run that succeeded meanwhile."""
        insert = self._insert()
        stmt = insert(JobRun).values(
            id=uuid.uuid4(),
            job_name=job_name,
            scheduled_for=scheduled_for,
            started_at=at,
            finished_at=at,
            error=error[:ERROR_LENGTH],
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=["job_name", "scheduled_for"],
            set_={"finished_at": at, "error": error[:ERROR_LENGTH]},
            where=JobRun.error.is_not(None),
        )
        await self.session.execute(stmt)

    async def last_slot(self, job_name: str) -> datetime | None:
        """The latest slot done (not failed) for a job: where a catch-up starts."""
        found: datetime | None = await self.session.scalar(
            select(JobRun.scheduled_for)
            .where(JobRun.job_name == job_name, JobRun.error.is_(None))
            .order_by(JobRun.scheduled_for.desc())
            .limit(1)
        )
        return found

    async def page(self, job_name: str | None, first: int, after: str | None) -> Page[JobRunRecord]:
        """Runs newest slot first; a cursor is the slot and id of the last one seen."""
        conditions: list[ColumnElement[bool]] = []
        if job_name:
            conditions.append(JobRun.job_name == job_name)
        total = await self.session.scalar(
            select(func.count()).select_from(JobRun).where(*conditions)
        )
        if after:
            at, run_id = time_and_id_cursor(after)
            conditions.append(
                or_(
                    JobRun.scheduled_for < at,
                    and_(JobRun.scheduled_for == at, JobRun.id < run_id),
                )
            )
        rows = list(
            await self.session.scalars(
                select(JobRun)
                .where(*conditions)
                .order_by(JobRun.scheduled_for.desc(), JobRun.id.desc())
                .limit(first + 1)
            )
        )
        records = [_record(r) for r in rows[:first]]
        return Page(
            items=[(encode_cursor(r.scheduled_for.isoformat(), r.id.hex), r) for r in records],
            has_next=len(rows) > first,
            total=total or 0,
        )
