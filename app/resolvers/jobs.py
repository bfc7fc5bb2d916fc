from __future__ import annotations

import strawberry

from app.schema.context import Context
from app.schema.job_run import JobRun, JobRunConnection
from app.schema.pagination import DEFAULT_PAGE_SIZE
from app.services.scheduled import job_run_page

Info = strawberry.Info[Context, None]


async def job_runs(
    info: Info,
    job_name: str | None = None,
    first: int = DEFAULT_PAGE_SIZE,
    after: str | None = None,
) -> JobRunConnection:
    page = await job_run_page(info.context.tx, job_name, first, after)
    return JobRunConnection.from_page(page, JobRun.from_record, after=after)
