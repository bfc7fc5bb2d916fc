"""The loyalty crons (DESIGN.md §4 housekeeping): points expiry, tier re-evaluation."""

from __future__ import annotations

from typing import Any

from app.jobs.discounts import scheduled_time
from app.services.job_registry import POINTS_EXPIRY_JOB, SCHEDULED_JOBS
from app.services.loyalty_tiers import TIER_JOB
from app.services.unit_of_work import Transactions


async def expire_loyalty_points(ctx: dict[str, Any]) -> dict[str, Any] | None:
    tx: Transactions = ctx["tx"]
    run = await SCHEDULED_JOBS[POINTS_EXPIRY_JOB].run(tx, scheduled_time(ctx))
    return run.result


async def refresh_loyalty_tiers(ctx: dict[str, Any]) -> dict[str, Any] | None:
    """Every customer's tier as of now: demotions as the window moves on (issue 13)."""
    tx: Transactions = ctx["tx"]
    run = await SCHEDULED_JOBS[TIER_JOB].run(tx, scheduled_time(ctx))
    return run.result
