"""The discount audit on the real arq worker's schedule (issue 11 §6)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import update

from app.db.models import Sale
from app.jobs.worker import build_worker


async def test_the_worker_audits_what_has_settled_since_the_watermark(
    factory, runtime, raw_sql
) -> None:
    product = await factory.product(price="10.00")
    regular = await factory.customer()
    await factory.loyalty_card(regular.id, percent="5")
    for _ in range(6):
        await factory.completed_sale(regular.id, [(product.sku, 1)])
    fresh = await factory.completed_sale(regular.id, [(product.sku, 1)])
    # Six visits settled a while ago; the seventh is still inside the settle margin.
    async with runtime.db.write() as session:
        await session.execute(
            update(Sale)
            .where(Sale.id != fresh.id)
            .values(completed_at=datetime.now(UTC) - timedelta(minutes=30))
        )

    worker = build_worker(runtime.settings, runtime.redis_url, db=runtime.db, burst=True)
    try:
        await worker.main()
    finally:
        await worker.close()

    [(rule, visits)] = await raw_sql("SELECT rule, details FROM discount_audit_findings")
    assert rule == "FREQUENT_DISCOUNT_USE"
    assert '"visits": 6' in str(visits) or "'visits': 6" in str(visits)
    [(rows, error)] = await raw_sql(
        "SELECT rows_touched, error FROM job_runs WHERE job_name = 'audit_discount_usage'"
    )
    assert (rows, error) == (1, None)
    [(through,)] = await raw_sql("SELECT scanned_through FROM discount_audit_watermark")
    assert through is not None
