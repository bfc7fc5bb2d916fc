"""Notification jobs."""

from __future__ import annotations

import uuid
from typing import Any

from arq import Retry

from app.services.notifications import NotificationDelivery


async def deliver_notification(ctx: dict[str, Any], outbox_id: str) -> str:
    """Deliver the notification an outbox row names; retried with backoff on gateway failure."""
    delivery: NotificationDelivery = ctx["delivery"]
    attempt = int(ctx.get("job_try", 1))
    outcome = await delivery.deliver(uuid.UUID(outbox_id), attempt)
    if outcome.retry:
        raise Retry(defer=min(300, 5 * 2**attempt))
    return outcome.status
