"""Scheduled jobs (issue 11 §1): one run per slot, failures kept and retried, catch-up, jobRuns."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from app.db.repositories.job_runs import JobRunRepository
from app.domain.permissions import Permission as P
from app.services.scheduled import ScheduledJob, ScheduledRun, run_due, run_once, slot_of
from app.services.unit_of_work import Transactions, UnitOfWork

DAY = timedelta(days=1)
RUNS = """query($job: String, $after: String) { jobRuns(jobName: $job, first: 2, after: $after) {
  totalCount edges { node { jobName scheduledFor finishedAt rowsTouched error result } }
  pageInfo { hasNextPage endCursor } } }"""


def counting_job(name: str, done: list[datetime], *, catch_up: int = 0) -> ScheduledJob:
    async def run(tx: Transactions, at: datetime) -> ScheduledRun:
        slot = slot_of(at, DAY)

        async def work(_: UnitOfWork) -> dict[str, Any]:
            done.append(slot)
            return {"rows": 3}

        return await run_once(tx, name, slot, work)

    return ScheduledJob(name, DAY, run, catch_up=catch_up)


async def test_a_slot_runs_once_however_often_it_is_asked(runtime, raw_sql) -> None:
    done: list[datetime] = []
    job = counting_job("nightly", done)
    at = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
    first = await job.run(runtime.tx, at)
    second = await job.run(runtime.tx, at + timedelta(hours=3))
    assert (first.claimed, second.claimed) == (True, False)
    assert done == [datetime(2026, 12, 1, tzinfo=UTC)]
    assert await raw_sql("SELECT rows_touched, error FROM job_runs") == [(3, None)]


async def test_a_failed_run_is_kept_with_its_error_and_the_slot_runs_again(
    runtime, raw_sql
) -> None:
    slot = datetime(2026, 12, 2, tzinfo=UTC)

    async def broken(_: UnitOfWork) -> dict[str, Any]:
        raise ValueError("the aggregates table is locked")

    with pytest.raises(ValueError, match="locked"):
        await run_once(runtime.tx, "nightly", slot, broken)
    [(error, finished)] = await raw_sql("SELECT error, finished_at FROM job_runs")
    assert error == "ValueError: the aggregates table is locked"
    assert finished is not None

    async def fixed(_: UnitOfWork) -> dict[str, Any]:
        return {"rows": 7}

    again = await run_once(runtime.tx, "nightly", slot, fixed)
    assert again.claimed
    assert await raw_sql("SELECT rows_touched, error FROM job_runs") == [(7, None)]
    # A failure recorded late (a racing run) never overwrites the run that succeeded.
    async with runtime.db.write() as session:
        await JobRunRepository(session).record_failure("nightly", slot, slot, "late")
    assert await raw_sql("SELECT rows_touched, error FROM job_runs") == [(7, None)]


async def test_missed_nights_are_caught_up_oldest_first_and_done_ones_skipped(runtime) -> None:
    done: list[datetime] = []
    job = counting_job("nightly", done, catch_up=5)
    now = datetime(2026, 12, 10, 4, 0, tzinfo=UTC)
    await job.run(runtime.tx, now - 3 * DAY)  # the last night a worker ran
    done.clear()
    runs = await run_due(runtime.tx, job, now)
    assert done == [now.replace(hour=0) - 2 * DAY, now.replace(hour=0) - DAY, now.replace(hour=0)]
    assert all(r.claimed for r in runs)
    assert await run_due(runtime.tx, job, now) == [ScheduledRun(claimed=False)]


async def test_a_new_job_catches_up_at_most_its_limit(runtime) -> None:
    done: list[datetime] = []
    await run_due(runtime.tx, counting_job("fresh", done, catch_up=2), datetime.now(UTC))
    assert len(done) == 3


async def test_job_runs_are_listed_newest_first_for_operators(gql, factory, runtime) -> None:
    job = counting_job("nightly", [])
    for day in (1, 2, 3):
        await job.run(runtime.tx, datetime(2026, 12, day, tzinfo=UTC))
    token = await factory.token(P.AUDIT_VIEW)
    page = (await gql(RUNS, {"job": "nightly"}, token=token))["data"]["jobRuns"]
    assert page["totalCount"] == 3
    assert [e["node"]["scheduledFor"][:10] for e in page["edges"]] == ["2026-12-03", "2026-12-02"]
    assert page["edges"][0]["node"]["rowsTouched"] == 3
    rest = await gql(RUNS, {"job": "nightly", "after": page["pageInfo"]["endCursor"]}, token=token)
    assert [e["node"]["scheduledFor"][:10] for e in rest["data"]["jobRuns"]["edges"]] == [
        "2026-12-01"
    ]
    other = (await gql(RUNS, {"job": "weekly"}, token=token))["data"]["jobRuns"]
    assert other["totalCount"] == 0
