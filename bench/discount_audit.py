"""The discount-usage audit's scan over a chain (issue 11 §6).

Usage: ``.venv/bin/python bench/discount_audit.py [--stores N --cashiers N --days N --per-day N]``.
With ``POSCRM_DATABASE_URL=postgresql+asyncpg://…`` it runs on PostgreSQL (a database of
its own, created and dropped); otherwise on a SQLite file in a temporary folder.

Fills the quality test's synthetic chain (tests/discount_audit_world.py: ordinary trading,
near misses, every pattern planted) at a chain's size, then times:

- the first scan, over every day (all six rules, the outlier windows, the findings);
- an hourly scan: the watermark one hour before the end, as the job runs every hour;
- the baseline, in the same run: reading the same sales' rows on the bare driver (sqlite3 /
  asyncpg), the floor of any scan that looks at every new sale.

It also prints what was found: planted cases found and findings on unplanted sales.
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import time
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import update

from app.db.engine import Database
from app.db.models import DiscountAuditWatermark
from app.db.repositories.discount_audit import DiscountAuditRepository
from app.domain.discount_audit import FindingFilter, FindingRecord
from app.services.discount_audit import scan
from app.services.discount_audit_rules import AuditThresholds
from app.services.unit_of_work import Transactions, UnitOfWork
from bench._common import raw_connect, scratch_database, temp_dir
from tests.discount_audit_world import Planted, build_world

SALES_SQL = (
    "SELECT id, store_id, cashier_id, customer_id, status, subtotal, discount_total, "
    "points_redeemed, points_amount, created_at, completed_at FROM sales "
    "WHERE completed_at > {a} AND completed_at <= {b}"
)


async def _read_floor(url: str, after: datetime, through: datetime) -> tuple[float, int]:
    """Seconds to read the scanned sales on the bare driver, and how many."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[1]
        conn = sqlite3.connect(path)
        try:
            started = time.perf_counter()
            rows = conn.execute(
                SALES_SQL.format(a="?", b="?"),
                (
                    after.isoformat(" ").replace("+00:00", ""),
                    through.isoformat(" ").replace("+00:00", ""),
                ),
            ).fetchall()
            return time.perf_counter() - started, len(rows)
        finally:
            conn.close()
    pg = await raw_connect(url)
    try:
        started = time.perf_counter()
        rows = await pg.fetch(SALES_SQL.format(a="$1", b="$2"), after, through)
        return time.perf_counter() - started, len(rows)
    finally:
        await pg.close()


async def _timed_scan(
    tx: Transactions, after: datetime, through: datetime
) -> tuple[float, int, int]:
    async def work(uow: UnitOfWork) -> tuple[int, int]:
        await uow.session.execute(update(DiscountAuditWatermark).values(scanned_through=after))
        repo = DiscountAuditRepository(uow.session)
        await repo.advance_watermark(after)
        report = await scan(uow, through, AuditThresholds(), timedelta(days=365))
        return report.sales, report.findings

    started = time.perf_counter()
    result = await tx.run(None, work)
    assert result.value is not None
    return time.perf_counter() - started, *result.value


def _planted_share(findings: list[FindingRecord], planted: Planted) -> tuple[int, dict[str, int]]:
    """(planted cases found, findings on unplanted sales or cashiers by rule)."""

    def key(f: FindingRecord) -> Any:
        if f.rule.value == "CASHIER_OUTLIER":
            assert f.cashier is not None
            return (f.cashier.id, f.details["metric"], f.details["windowStart"][:10])
        if f.rule.value == "FREQUENT_DISCOUNT_USE":
            return (f.customer_id, f.details["day"])
        return (f.rule.value, f.sale_id)

    wanted = (
        {(rule, s) for rule, sales in planted.sales.items() for s in sales}
        | planted.outliers
        | planted.frequent
    )
    unplanted: dict[str, int] = {}
    for f in findings:
        if key(f) not in wanted:
            unplanted[f.rule.value] = unplanted.get(f.rule.value, 0) + 1
    return len(wanted & {key(f) for f in findings}), unplanted


async def main(args: argparse.Namespace) -> None:
    async with scratch_database(temp_dir(), "audit") as url:
        db = Database(url)
        try:
            started = time.perf_counter()
            world = await build_world(
                db, seed=11, days=args.days, store_count=args.stores,
                cashier_count=args.cashiers, per_day=(args.per_day - 2, args.per_day + 3),
            )  # fmt: skip
            fill = time.perf_counter() - started
            tx = Transactions(db, None)
            backend = "PostgreSQL" if url.startswith("postgresql") else "SQLite"
            print(
                f"{backend}: {world.sales:,} sales, {args.stores} stores × {args.cashiers} "
                f"cashiers × {args.days} days (filled in {fill:.1f} s)"
            )
            after = world.start - timedelta(days=1)
            seconds, sales, findings = await _timed_scan(tx, after, world.end)
            floor, rows = await _read_floor(url, after, world.end)
            print(
                f"first scan: {seconds:.2f} s for {sales:,} sales ({sales / seconds:,.0f}/s), "
                f"{findings} findings; bare-driver read of those {rows:,} sales {floor:.3f} s"
            )
            hour = world.end - timedelta(hours=10)  # 13:00-14:00 on the last day: trading hours
            h_seconds, h_sales, _ = await _timed_scan(tx, hour - timedelta(hours=1), hour)
            h_floor, _ = await _read_floor(url, hour - timedelta(hours=1), hour)
            print(
                f"hourly scan: {h_seconds * 1000:.0f} ms for {h_sales:,} sales; "
                f"bare-driver read {h_floor * 1000:.1f} ms"
            )
            async with db.read() as session:
                page = await DiscountAuditRepository(session).page(FindingFilter(), 100_000, None)
            found, unplanted = _planted_share([f for _, f in page.items], world.planted)
            total, others = len(page.items), sum(unplanted.values())
            print(
                f"planted cases found: {found} of {world.planted.cases()}; findings on unplanted "
                f"sales or cashiers: {others} of {total} ({others / max(total, 1):.1%}) {unplanted}"
            )
        finally:
            await db.dispose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--stores", type=int, default=20)
    parser.add_argument("--cashiers", type=int, default=8)
    parser.add_argument("--days", type=int, default=28)
    parser.add_argument("--per-day", type=int, default=20)
    asyncio.run(main(parser.parse_args()))
