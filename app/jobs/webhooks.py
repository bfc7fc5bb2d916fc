"""Webhook delivery jobs."""

from __future__ import annotations

import uuid
from typing import Any

from arq import Retry

from app.services.webhooks.delivery import WebhookSender


async def deliver_webhook(ctx: dict[str, Any], outbox_id: str) -> str:
    """POST one signed delivery an outbox row names; retried with backoff on 5xx, 429, timeouts."""
    sender = WebhookSender(ctx["db"], ctx["settings"], ctx["tx"].stamps)
    outcome = await sender.deliver(uuid.UUID(outbox_id))
    if outcome.retry_in is not None:
        raise Retry(defer=outcome.retry_in)
    return outcome.status
