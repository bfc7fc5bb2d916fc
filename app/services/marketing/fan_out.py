"""The fan-out job's work: a campaign's notifications handed to delivery in batches."""

from __future__ import annotations

import uuid

from app.db.repositories.marketing import DELIVERY_JOB, MarketingRepository
from app.db.repositories.outbox import OutboxRepository
from app.services.unit_of_work import Transactions, utcnow

# One transaction per batch keeps each write short (the API shares the database), and
# one outbox row each is what the delivery job and the relay already know how to run.
FAN_OUT_BATCH = 1000


async def fan_out(tx: Transactions, outbox_id: uuid.UUID, batch: int = FAN_OUT_BATCH) -> int:
    """Write and enqueue a delivery job for each of a campaign's notifications; how many.

    Safe to run again at any point: a notification's delivery outbox row has the
    notification's id, so a batch written before a crash is found and not written twice,
    and its rows that missed Redis are enqueued by the outbox relay.
    """
    async with tx.db.read() as session:
        message = await OutboxRepository(session).get(outbox_id)
    if message is None:
        return 0
    campaign_id = uuid.UUID(message[1]["campaign_id"])
    handed = 0
    after: uuid.UUID | None = None
    while True:
        async with tx.db.write() as session:
            written = await MarketingRepository(session).queue_deliveries(
                campaign_id, batch, utcnow(), after
            )
        if not written:
            break
        after = written[-1]
        await tx.dispatch([(DELIVERY_JOB, str(message_id)) for message_id in written])
        handed += len(written)
    async with tx.db.write() as session:
        now = utcnow()
        await MarketingRepository(session).mark_fanned_out(campaign_id, now)
        await OutboxRepository(session).claim(outbox_id, now)
    return handed
