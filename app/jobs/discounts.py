"""The discount expiry cron: resets customers' discount codes once they expire (seed 002)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from app.services.discounts import EXPIRY_EVERY, expire_assignments
from app.services.unit_of_work import Transactions, utcnow

# Every 5 minutes: a code expiring at 17:00 stops applying at once (sales read expires_at),
# so the job only tidies up the rows and records the reset in the audit trail.
# The cron's minutes and the service's slots are one interval.
EXPIRY_MINUTES = set(range(0, 60, int(EXPIRY_EVERY.total_seconds()) // 60))


def scheduled_time(ctx: dict[str, Any]) -> datetime:
    """The time arq scheduled this run for, which names the slot; now if unknown."""
    score = ctx.get("score")
    return datetime.fromtimestamp(score / 1000, UTC) if score else utcnow()


async def expire_customer_discounts(ctx: dict[str, Any]) -> dict[str, Any] | None:
    tx: Transactions = ctx["tx"]
    run = await expire_assignments(tx, scheduled_time(ctx))
    return run.result
