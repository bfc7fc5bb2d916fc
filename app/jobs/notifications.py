"""Notification jobs."""

from __future__ import annotations

import random
import uuid
from typing import Any

from arq import Retry

from app.services.notifications import NotificationDelivery
from app.settings import Settings


def retry_delay(attempt: int, retry_after: float | None, settings: Settings) -> float:
    """Seconds until the next try of a transiently failed notification.

    Webhook deliveries back off by a rule of their own (``app/services/webhooks/delivery.py``
    ``backoff``: additive jitter); the two should become one module.

    Exponential backoff (base * 2**(attempt - 1), capped) with "equal jitter": half the delay is
    fixed, half random, so notifications that failed together (an SMTP server that went
    down) do not all come back at the same instant, and none comes back at once. A
    gateway's Retry-After wins when it asks for longer, up to its own cap.
    """
    ceiling = min(
        settings.notification_retry_cap_seconds,
        settings.notification_retry_base_seconds * (1 << max(0, attempt - 1)),
    )
    delay = ceiling / 2 + random.uniform(0, ceiling / 2)  # noqa: S311 (jitter, not a secret)
    if retry_after is not None:
        delay = max(delay, min(retry_after, settings.notification_retry_after_cap_seconds))
    return delay


async def deliver_notification(ctx: dict[str, Any], outbox_id: str) -> str:
    """Deliver the notification an outbox row names; retried with backoff on gateway failure."""
    delivery: NotificationDelivery = ctx["delivery"]
    attempt = int(ctx.get("job_try", 1))
    outcome = await delivery.deliver(uuid.UUID(outbox_id), attempt)
    if outcome.retry:
        settings: Settings = ctx["settings"]
        raise Retry(defer=retry_delay(attempt, outcome.retry_after, settings))
    return outcome.status
