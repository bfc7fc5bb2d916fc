"""The points expiry cron (DESIGN.md §4 housekeeping)."""

from __future__ import annotations

from typing import Any

from app.services.loyalty import LoyaltyService
from app.services.unit_of_work import Transactions


async def expire_loyalty_points(ctx: dict[str, Any]) -> dict[str, int]:
    # No slot claim needed: an EXPIRE entry is itself a debit, and each customer is
    # expired under their balance row's lock, so a second or concurrent run finds
    # nothing left to expire.
    tx: Transactions = ctx["tx"]
    report = await LoyaltyService(tx, None).expire_points()
    return {"customers": report.customers, "points": report.points}
