"""The discount expiry cron: resets expired assignments once per slot, audited as the system."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from app.jobs.discounts import EXPIRY_MINUTES, expire_customer_discounts, scheduled_time
from app.jobs.worker import build_worker
from app.services.discounts import EXPIRY_EVERY, EXPIRY_JOB, expire_assignments
from app.services.scheduled import run_once, slot_of
from app.services.unit_of_work import UnitOfWork

NOW = datetime.now(UTC).replace(microsecond=0)
SLOT = slot_of(NOW, EXPIRY_EVERY)


def as_json(value: Any) -> Any:
    """A JSON column read through raw SQL: text on SQLite and asyncpg alike."""
    return json.loads(value) if isinstance(value, str) else value


async def held(raw_sql: Any) -> set[str]:
    rows = await raw_sql("SELECT customer_id FROM customer_discounts")
    return {str(uuid.UUID(str(r[0]))) for r in rows}


async def expiry_audits(raw_sql: Any) -> list[tuple[Any, ...]]:
    return [
        tuple(r)
        for r in await raw_sql(
            "SELECT entity_type, entity_id, actor_label, actor_id FROM audit_entries "
            "WHERE action = 'discount_expire' ORDER BY entity_id"
        )
    ]


async def job_runs(raw_sql: Any) -> list[tuple[Any, ...]]:
    return [tuple(r) for r in await raw_sql("SELECT job_name, finished_at, result FROM job_runs")]


async def three_customers(factory: Any) -> tuple[Any, Any, Any]:
    """One expired at NOW, one expiring later, one whose code never expires."""
    await factory.discount_code("VIP")
    expired, later, forever = [await factory.customer() for _ in range(3)]
    await factory.assign_discount(expired.id, "VIP", NOW)
    await factory.assign_discount(later.id, "VIP", NOW + timedelta(seconds=1))
    await factory.assign_discount(forever.id, "VIP", None)
    return expired, later, forever


async def test_expired_assignments_are_reset_and_audited_as_the_system(
    factory, runtime, raw_sql
) -> None:
    expired, later, forever = await three_customers(factory)

    run = await expire_assignments(runtime.tx, SLOT, now=NOW)

    assert run.claimed
    assert run.result is not None
    assert run.result["expired"] == 1
    assert await held(raw_sql) == {str(later.id), str(forever.id)}
    assert await expiry_audits(raw_sql) == [("customer", str(expired.id), "system", None)]
    [(before, after)] = await raw_sql(
        "SELECT before, after FROM audit_entries WHERE action = 'discount_expire'"
    )
    assert as_json(after) is None
    stored = as_json(before)
    assert stored["discountCode"] == "VIP"
    assert datetime.fromisoformat(stored["expiresAt"]) == NOW
    [(name, finished_at, result)] = await job_runs(raw_sql)
    assert name == EXPIRY_JOB
    assert finished_at is not None
    assert as_json(result)["expired"] == 1


async def test_a_slot_runs_once_even_when_started_twice(factory, runtime, raw_sql) -> None:
    expired, _, _ = await three_customers(factory)
    first = await expire_assignments(runtime.tx, SLOT, now=NOW)
    # A second worker's start in the same slot, seconds later, finds the slot taken...
    second = await expire_assignments(runtime.tx, SLOT + timedelta(seconds=59), now=NOW)
    assert (first.claimed, second.claimed) == (True, False)
    assert second.result is None
    assert len(await job_runs(raw_sql)) == 1

    # ...and does nothing even when there is work: the slot was done.
    await factory.assign_discount(expired.id, "VIP", NOW)
    assert not (await expire_assignments(runtime.tx, SLOT, now=NOW)).claimed
    assert str(expired.id) in await held(raw_sql)
    # The next slot does it.
    later = await expire_assignments(runtime.tx, SLOT + EXPIRY_EVERY, now=NOW)
    assert later.claimed
    assert str(expired.id) not in await held(raw_sql)
    assert len(await expiry_audits(raw_sql)) == 2


async def test_concurrent_runs_of_one_slot_do_the_work_once(factory, runtime, raw_sql) -> None:
    await three_customers(factory)
    runs = await asyncio.gather(*(expire_assignments(runtime.tx, SLOT, now=NOW) for _ in range(4)))
    assert sorted(r.claimed for r in runs) == [False, False, False, True]
    assert len(await expiry_audits(raw_sql)) == 1
    assert len(await job_runs(raw_sql)) == 1


async def test_a_failed_run_leaves_its_slot_free_for_a_retry(runtime, raw_sql) -> None:
    async def failing(uow: UnitOfWork) -> dict[str, Any]:
        raise RuntimeError("database went away")

    async def working(uow: UnitOfWork) -> dict[str, Any]:
        return {"done": True}

    try:
        await run_once(runtime.tx, "test_job", SLOT, failing)
    except RuntimeError:
        pass
    else:
        raise AssertionError("the failure must surface, so that arq retries the job")
    # Only the failure is kept (jobRuns shows it); the slot stays free for the retry.
    assert [(r[0], r[2]) for r in await job_runs(raw_sql)] == [("test_job", None)]
    assert await raw_sql("SELECT error FROM job_runs") == [("RuntimeError: database went away",)]
    assert (await run_once(runtime.tx, "test_job", SLOT, working)).claimed
    assert await raw_sql("SELECT error FROM job_runs") == [(None,)]


def test_slots_are_the_cron_minutes() -> None:
    assert sorted(EXPIRY_MINUTES) == list(range(0, 60, 5))
    at = datetime(2030, 5, 1, 10, 7, 42, tzinfo=UTC)
    assert slot_of(at, EXPIRY_EVERY) == datetime(2030, 5, 1, 10, 5, tzinfo=UTC)
    # arq's score: the time the cron run was scheduled for, in ms.
    score = int(datetime(2030, 5, 1, 10, 10, tzinfo=UTC).timestamp() * 1000)
    assert scheduled_time({"score": score}) == datetime(2030, 5, 1, 10, 10, tzinfo=UTC)


async def test_the_job_function_runs_the_slot_arq_scheduled(factory, runtime, raw_sql) -> None:
    await factory.discount_code("VIP")
    expired, current = await factory.customer(), await factory.customer()
    await factory.assign_discount(expired.id, "VIP", datetime.now(UTC) - timedelta(seconds=1))
    await factory.assign_discount(current.id, "VIP", datetime.now(UTC) + timedelta(days=1))
    score = int(datetime.now(UTC).timestamp() * 1000)

    result = await expire_customer_discounts({"tx": runtime.tx, "score": score})
    assert result is not None
    assert result["expired"] == 1
    assert await held(raw_sql) == {str(current.id)}
    # arq delivering the same cron run again: the slot is done.
    assert await expire_customer_discounts({"tx": runtime.tx, "score": score}) is None
    assert len(await job_runs(raw_sql)) == 1


async def test_the_worker_resets_expired_discounts_on_its_schedule(
    factory, runtime, raw_sql
) -> None:
    """Through the real arq worker: the cron runs at start-up, then on its minutes."""
    await factory.discount_code("VIP")
    expired, current = await factory.customer(), await factory.customer()
    await factory.assign_discount(expired.id, "VIP", datetime.now(UTC) - timedelta(seconds=1))
    await factory.assign_discount(current.id, "VIP", datetime.now(UTC) + timedelta(days=1))

    worker = build_worker(runtime.settings, runtime.redis_url, db=runtime.db, burst=True)
    try:
        await worker.main()
    finally:
        await worker.close()

    assert await held(raw_sql) == {str(current.id)}
    assert await expiry_audits(raw_sql) == [("customer", str(expired.id), "system", None)]
    # The points expiry ran at start-up too, under its own name.
    [(name, finished_at, _)] = [r for r in await job_runs(raw_sql) if r[0] == EXPIRY_JOB]
    assert name == EXPIRY_JOB
    assert finished_at is not None
