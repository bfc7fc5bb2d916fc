"""The nightly analytics cron: daily aggregates, then customer segments (issue 11 §2, §3)."""

from __future__ import annotations

from typing import Any

from app.jobs.discounts import scheduled_time
from app.services.job_registry import SCHEDULED_JOBS
from app.services.sales_aggregates import AGGREGATES_JOB
from app.services.scheduled import run_due
from app.services.unit_of_work import Transactions


async def refresh_sales_aggregates(ctx: dict[str, Any]) -> dict[str, Any] | None:
    tx: Transactions = ctx["tx"]
    # run_due, not one slot: a worker starting after nights down catches them up, oldest
    # first, each recomputing its own day.
    runs = await run_due(tx, SCHEDULED_JOBS[AGGREGATES_JOB], scheduled_time(ctx))
    return {"slots": sum(run.claimed for run in runs)}
