"""The periodic outbox relay."""

from __future__ import annotations

from typing import Any

from app.services.outbox import relay_pending
from app.services.unit_of_work import Transactions
from app.settings import Settings


async def relay_outbox(ctx: dict[str, Any]) -> int:
    """Re-enqueue outbox rows that never reached Redis (Redis down at commit, process killed)."""
    tx: Transactions = ctx["tx"]
    settings: Settings = ctx["settings"]
    return await relay_pending(tx, settings.outbox_relay_grace_seconds)
