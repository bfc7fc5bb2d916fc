"""Delivery totals for /metrics (issue 10 §6), read from the database at each scrape.

Deliveries run in worker processes, often several: a counter kept in memory would count
one process's sends and restart at zero with it. The rows are the record (DESIGN.md §4),
so the totals are counted from them, one GROUP BY per table, and are the same whichever
process answers the scrape.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.db.engine import Database
from app.db.repositories.notifications import NotificationRepository
from app.db.repositories.webhooks import WebhookRepository


@dataclass(frozen=True, slots=True)
class DeliveryTotals:
    # (channel, scenario, status, count)
    notifications: list[tuple[str, str, str, int]]
    # (event, status, count)
    webhooks: list[tuple[str, str, int]]


async def delivery_totals(db: Database) -> DeliveryTotals:
    """Every notification and webhook delivery counted by what identifies it and its status."""
    async with db.read() as session:
        return DeliveryTotals(
            notifications=await NotificationRepository(session).totals(),
            webhooks=await WebhookRepository(session).totals(),
        )
