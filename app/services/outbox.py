"""The outbox relay: hands rows that never reached the queue to it again."""

from __future__ import annotations

from datetime import timedelta

from app.db.repositories.outbox import OutboxRepository
from app.services.unit_of_work import Transactions, utcnow

RELAY_BATCH = 500


async def relay_pending(tx: Transactions, grace_seconds: int) -> int:
    """Enqueue outbox rows older than the grace period that no one enqueued; returns how many."""
    async with tx.db.read() as session:
        pending = await OutboxRepository(session).pending(
            utcnow() - timedelta(seconds=grace_seconds), RELAY_BATCH
        )
    await tx.dispatch([(job_name, str(message_id)) for message_id, job_name in pending])
    return len(pending)
