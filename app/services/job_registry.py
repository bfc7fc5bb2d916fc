"""Every scheduled job by name: what the worker schedules and `poscrm run-job NAME` runs.

One entry per job, so the schedule, the command line and `jobRuns` agree on names, slots
and run keys (issue 11 §1).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from app.services.discount_audit import AUDIT_EVERY, AUDIT_JOB, audit_discount_usage
from app.services.discounts import EXPIRY_EVERY, EXPIRY_JOB, expire_assignments
from app.services.forecasts import FORECAST_JOB, refresh_forecasts
from app.services.loyalty import LoyaltyService
from app.services.loyalty_tiers import TIER_JOB, refresh_tiers
from app.services.sales_aggregates import AGGREGATES_JOB, CATCH_UP_NIGHTS, run_nightly
from app.services.scheduled import ScheduledJob, ScheduledRun, run_once, slot_of
from app.services.unit_of_work import Transactions, UnitOfWork

POINTS_EXPIRY_JOB = "expire_loyalty_points"
DAILY = timedelta(days=1)


async def _expire_points(tx: Transactions, scheduled_for: datetime) -> ScheduledRun:
    # The expiry is many short transactions (one per customer), so it cannot share one
    # with its claim; it needs none (an EXPIRE entry is itself a debit, so a second run
    # finds nothing left). The slot's row records that it ran, and what it did.
    report = await LoyaltyService(tx, None).expire_points()
    result: dict[str, Any] = {"rows": report.customers, "points": report.points}

    async def record(_: UnitOfWork) -> dict[str, Any]:
        return result

    return await run_once(tx, POINTS_EXPIRY_JOB, slot_of(scheduled_for, DAILY), record)


SCHEDULED_JOBS: dict[str, ScheduledJob] = {
    job.name: job
    for job in (
        ScheduledJob(EXPIRY_JOB, EXPIRY_EVERY, expire_assignments),
        ScheduledJob(POINTS_EXPIRY_JOB, DAILY, _expire_points),
        # No catch-up: each run evaluates everyone as of now, so tonight's makes up for
        # any missed night.
        ScheduledJob(TIER_JOB, DAILY, refresh_tiers),
        # No catch-up: the watermark already makes the next run scan everything missed.
        ScheduledJob(AUDIT_JOB, AUDIT_EVERY, audit_discount_usage),
        # Only the latest night matters: a missed night is caught up by tonight's run.
        ScheduledJob(FORECAST_JOB, DAILY, refresh_forecasts),
        # The run of day D's slot aggregates day D-1 (docs/analytics.md).
        ScheduledJob(AGGREGATES_JOB, DAILY, run_nightly, catch_up=CATCH_UP_NIGHTS),
    )
}
