"""The points expiry cron (DESIGN.md §4 housekeeping)."""

from __future__ import annotations

from typing import Any

from app.jobs.discounts import scheduled_time
from app.services.job_registry import POINTS_EXPIRY_JOB, SCHEDULED_JOBS
from app.services.unit_of_work import Transactions


async def expire_loyalty_points(ctx: dict[str, Any]) -> dict[str, Any] | None:
    tx: Transactions = ctx["tx"]
    run = await SCHEDULED_JOBS[POINTS_EXPIRY_JOB].run(tx, scheduled_time(ctx))
    return run.result
