"""Scheduled jobs run once per slot, whichever worker starts them (DESIGN.md §4).

arq can start one cron job on two workers at once, and a worker that restarts may run
a slot again; a ``job_runs`` row unique on (job name, slot) is the record of who ran it.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from app.db.repositories.job_runs import JobRunRepository
from app.domain.records import JobRunRecord, Page
from app.services.unit_of_work import Transactions, UnitOfWork, utcnow

log = logging.getLogger(__name__)

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

    try:
        outcome = await tx.run(None, unit)
        if outcome.value is None:
            raise RuntimeError(f"{job_name}: {outcome.errors}")
    except Exception as failure:
        # The work rolled back with its claim; the failure alone is kept, for operators
        # (jobRuns), and the next run of the slot takes it again.
        log.exception("scheduled job failed", extra={"job": job_name})
        reason = f"{type(failure).__name__}: {failure}"
        async with tx.db.write() as session:
            await JobRunRepository(session).record_failure(
                job_name, scheduled_for, utcnow(), reason
            )
        raise
    return outcome.value


@dataclass(frozen=True, slots=True)
class ScheduledJob:
    """A job the worker runs on a schedule and ``poscrm run-job`` runs on demand.

    ``run`` does one slot through ``run_once`` (so the schedule, a second worker and the
    command line all share one run key); ``every`` is the slot's length; ``catch_up`` is
    how many missed slots a worker starting after downtime runs (0: none).
    """

    name: str
    every: timedelta
    run: Callable[[Transactions, datetime], Awaitable[ScheduledRun]]
    catch_up: int = 0


async def run_due(tx: Transactions, job: ScheduledJob, now: datetime) -> list[ScheduledRun]:
    """Run the slots missed since the last one done, oldest first, up to ``job.catch_up``,
    then the current one; slots done meanwhile by another worker are skipped by the claim."""
    current = slot_of(now, job.every)
    async with tx.db.read() as session:
        last = await JobRunRepository(session).last_slot(job.name)
    first = current - job.every * job.catch_up
    if last is not None:
        first = max(first, last + job.every)
    slots = []
    slot = min(first, current)
    while slot <= current:
        slots.append(slot)
        slot += job.every
    return [await job.run(tx, s) for s in slots]


async def job_run_page(
    tx: Transactions, job_name: str | None, first: int, after: str | None
) -> Page[JobRunRecord]:
    """Runs newest slot first, of one job or all."""
    async with tx.db.read() as session:
        return await JobRunRepository(session).page(job_name, first, after)
