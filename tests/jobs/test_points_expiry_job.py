"""The points expiry cron, through the real arq worker."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from app.jobs.worker import build_worker


async def test_the_worker_expires_old_points_at_start_up(factory, runtime, raw_sql) -> None:
    await factory.points_validity_days(30)
    old, recent = await factory.customer(), await factory.customer()
    await factory.earn_points(old.id, 40, at=datetime.now(UTC) - timedelta(days=31))
    await factory.earn_points(recent.id, 25, at=datetime.now(UTC) - timedelta(days=29))

    worker = build_worker(runtime.settings, runtime.redis_url, db=runtime.db, burst=True)
    try:
        await worker.main()
    finally:
        await worker.close()

    rows = await raw_sql("SELECT kind, points FROM loyalty_points_ledger WHERE kind = 'EXPIRE'")
    assert [tuple(r) for r in rows] == [("EXPIRE", -40)]
    balances = sorted(r[0] for r in await raw_sql("SELECT points FROM loyalty_points_balances"))
    assert balances == [0, 25]
