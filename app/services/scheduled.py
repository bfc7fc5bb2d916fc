"""Scheduled jobs run once per slot, whichever worker starts them (DESIGN.md §4).

arq can start one cron job on two workers at once, and a worker that restarts may run
a slot again; a ``job_runs`` row unique on (job name, slot) is the record of who ran it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from app.services.unit_of_work import Transactions, UnitOfWork, utcnow

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class ScheduledRun:
    """``claimed`` is False when another run already had the slot; then nothing was done."""

    claimed: bool
    result: dict[str, Any] | None = None


def slot_of(at: datetime, every: timedelta) -> datetime:
    """The start of the ``every``-long slot holding ``at``.

    Workers whose clocks or start-up runs differ by seconds still name the same slot.
    """
    return at - (at - EPOCH) % every


async def run_once(
    tx: Transactions,
    job_name: str,
    scheduled_for: datetime,
    work: Callable[[UnitOfWork], Awaitable[dict[str, Any]]],
) -> ScheduledRun:
    """Claim the slot and do ``work`` in one transaction, as the system (no actor).

    One transaction: if the work fails, the claim rolls back with it, so the next
    delivery of the job (or another worker) can still do the slot.
    """

    async def unit(uow: UnitOfWork) -> ScheduledRun:
        run_id = await uow.job_runs.claim(job_name, scheduled_for, uow.now)
        if run_id is None:
            return ScheduledRun(claimed=False)
        result = await work(uow)
        await uow.job_runs.finish(run_id, utcnow(), result)
        return ScheduledRun(claimed=True, result=result)

    outcome = await tx.run(None, unit)
    if outcome.value is None:
        raise RuntimeError(f"{job_name}: {outcome.errors}")
    return outcome.value
