"""SMS credits (issue 10 §2, seed 003 "My SMS"): top-ups, and each SMS's reserve → spend | release.

An SMS holds its credits from the transaction that queues it: reserving is a conditional
UPDATE of the one balance row, so two tills registering customers at once take turns and
the balance never goes below zero (a CHECK backs it). The send spends what it holds; a
failure or a skip gives it back. Every movement is a ledger row; top-ups are audited too.
Email is free.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime

from app.db.repositories.business import BusinessSettingsRepository
from app.db.repositories.sms_credits import SmsCreditRepository
from app.domain.errors import ErrorCode, UserError, reject
from app.domain.records import Actor
from app.services.unit_of_work import Result, Transactions, UnitOfWork

log = logging.getLogger(__name__)

# One top-up, and the balance, stay far below a 32-bit column's limit.
TOP_UP_MAX = 1_000_000
BALANCE_MAX = 1_000_000_000
REFERENCE_MAX = 200

# The reason an SMS is SKIPPED when the shop has no credits for it.
NO_SMS_CREDITS = "NO_SMS_CREDITS"


@dataclass(frozen=True, slots=True)
class SmsCreditsRecord:
    available: int
    reserved: int
    warning_threshold: int

    @property
    def low_balance(self) -> bool:
        return self.available < self.warning_threshold


async def read_credits(
    credits: SmsCreditRepository, business: BusinessSettingsRepository
) -> SmsCreditsRecord:
    balance = await credits.get()
    threshold = (await business.get()).sms_credit_warning_threshold
    return SmsCreditsRecord(balance.available, balance.reserved, threshold)


async def reserve(
    credits: SmsCreditRepository,
    business: BusinessSettingsRepository,
    notification_id: uuid.UUID | None,
    segments: int,
    now: datetime,
    *,
    reference: str | None = None,
    actor_id: str | None = None,
    actor_label: str = "system",
) -> bool:
    """Hold ``segments`` for a notification, in the caller's transaction; False: too few left.

    The caller notes the hold on the notification (``sms_credits``). A marketing campaign
    reserves for all its notifications at once: no ``notification_id``, a ``reference``.
    """
    if not await credits.reserve(segments, now):
        log.warning("no SMS credits for a message", extra={"segments": segments})
        return False
    await credits.record(
        "RESERVE",
        segments,
        now,
        notification_id=notification_id,
        reference=reference,
        actor_id=actor_id,
        actor_label=actor_label,
    )
    after = await read_credits(credits, business)
    # Logged once, by the reservation that crosses the line; counts only, no personal data.
    if after.low_balance and after.available + segments >= after.warning_threshold:
        log.warning(
            "SMS credits below the warning threshold",
            extra={"available": after.available, "threshold": after.warning_threshold},
        )
    return True


async def settle(
    credits: SmsCreditRepository, notification_id: uuid.UUID, *, sent: bool, now: datetime
) -> int:
    """Spend (sent) or release (not sent) what a notification holds, once; the segments moved."""
    held = await credits.take_held(notification_id)
    if not held:
        return 0
    if sent:
        await credits.spend(held, now)
    else:
        await credits.release(held, now)
    await credits.record("SPEND" if sent else "RELEASE", held, now, notification_id=notification_id)
    return held


async def adjust_hold(
    credits: SmsCreditRepository,
    business: BusinessSettingsRepository,
    notification_id: uuid.UUID,
    *,
    held: int,
    needed: int,
    now: datetime,
) -> bool:
    """Make a queued SMS hold ``needed`` segments instead of ``held``; False: too few left
    (the hold is then unchanged, and the caller skips the SMS, releasing it)."""
    if needed == held or not await credits.rehold(notification_id, held, needed):
        return True  # nothing to do, or a concurrent run of the same job did it
    if needed < held:
        await credits.release(held - needed, now)
        await credits.record("RELEASE", held - needed, now, notification_id=notification_id)
        return True
    if await reserve(credits, business, notification_id, needed - held, now):
        return True
    await credits.rehold(notification_id, needed, held)
    return False


class SmsCreditService:
    def __init__(self, tx: Transactions, actor: Actor | None) -> None:
        self.tx = tx
        self.actor = actor

    async def get(self) -> SmsCreditsRecord:
        async with self.tx.db.read() as session:
            return await read_credits(
                SmsCreditRepository(session), BusinessSettingsRepository(session)
            )

    async def add(self, amount: int, reference: str) -> Result[SmsCreditsRecord]:
        """Top up the balance by ``amount`` segments; ledger entry and audit in one transaction."""
        reference = reference.strip()
        if not 1 <= amount <= TOP_UP_MAX:
            return Result(
                errors=[
                    UserError(
                        ErrorCode.INVALID, f"Add 1 to {TOP_UP_MAX} credits at a time.", ("amount",)
                    )
                ]
            )
        if not reference:
            return Result(
                errors=[
                    UserError(
                        ErrorCode.REQUIRED,
                        "Say what the credits were bought with (an invoice or order number).",
                        ("reference",),
                    )
                ]
            )
        if len(reference) > REFERENCE_MAX:
            return Result(
                errors=[
                    UserError(
                        ErrorCode.INVALID,
                        f"A reference is at most {REFERENCE_MAX} characters.",
                        ("reference",),
                    )
                ]
            )

        async def work(uow: UnitOfWork) -> SmsCreditsRecord:
            before = await read_credits(uow.sms_credits, uow.business)
            if not await uow.sms_credits.top_up(amount, BALANCE_MAX, uow.now):
                raise reject(
                    ErrorCode.INVALID,
                    f"The balance would pass {BALANCE_MAX} credits.",
                    "amount",
                )
            await uow.sms_credits.record(
                "TOP_UP",
                amount,
                uow.now,
                reference=reference,
                actor_id=uow.actor_id,
                actor_label=uow.actor_label,
            )
            after = await read_credits(uow.sms_credits, uow.business)
            await uow.audit(
                "sms_credits",
                1,
                "top_up",
                before={"available": before.available},
                after={"available": after.available, "added": amount, "reference": reference},
            )
            return after

        return await self.tx.run(self.actor, work)
