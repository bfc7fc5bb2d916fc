"""The nightly demand forecast and reorder suggestions (issue 11 §5)."""

from __future__ import annotations

from typing import Any

from app.jobs.discounts import scheduled_time
from app.services.forecasts import FORECAST_JOB
from app.services.job_registry import SCHEDULED_JOBS
from app.services.unit_of_work import Transactions


async def refresh_demand_forecasts(ctx: dict[str, Any]) -> dict[str, Any] | None:
    tx: Transactions = ctx["tx"]
    run = await SCHEDULED_JOBS[FORECAST_JOB].run(tx, scheduled_time(ctx))
    return run.result
