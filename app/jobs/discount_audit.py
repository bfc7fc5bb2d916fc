"""The discount-usage audit cron (issue 11 §6)."""

from __future__ import annotations

from typing import Any

from app.jobs.discounts import scheduled_time
from app.services.discount_audit import audit_discount_usage
from app.services.unit_of_work import Transactions


async def audit_discounts(ctx: dict[str, Any]) -> dict[str, Any] | None:
    tx: Transactions = ctx["tx"]
    run = await audit_discount_usage(tx, scheduled_time(ctx), ctx["settings"])
    return run.result
