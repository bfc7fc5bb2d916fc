"""Marketing jobs."""

from __future__ import annotations

import uuid
from typing import Any

from app.services.marketing.fan_out import fan_out
from app.services.unit_of_work import Transactions


async def fan_out_marketing(ctx: dict[str, Any], outbox_id: str) -> int:
    """Hand a campaign's notifications to delivery in batches; re-running it is harmless."""
    tx: Transactions = ctx["tx"]
    return await fan_out(tx, uuid.UUID(outbox_id))
