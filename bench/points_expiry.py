"""Points expiry (issue 12): N customers with points, expired by the nightly job's service.

Usage: ``.venv/bin/python bench/points_expiry.py [--customers 100000 --batch-size 1000]``
(``--customers 1000000`` for the issue's target). With
``POSCRM_DATABASE_URL=postgresql+asyncpg://…`` it runs on PostgreSQL (a database of its
own, created and dropped); otherwise on a SQLite file in a temporary folder.

Fills the customers and their ledgers with SQLAlchemy Core executemany (not through the
till): every customer has an old credit past the validity, a third also a recent one,
a fifth spent part of the old points since, so FIFO decides what expires. Then, in
the same run:

1. the baseline: every ledger row read whole on the bare driver (sqlite3 / asyncpg), in
   customer order, which is the least any expiry must do;
2. ``LoyaltyService.expire_points`` as the cron runs it, with the longest batch
   transaction (how long a till may wait for a balance) and a check that every balance
   still equals its ledger's sum and the right points expired.
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import sqlite3
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from _common import raw_connect, scratch_database, temp_dir
from sqlalchemy import insert, text
from sqlalchemy.engine import make_url

from app.db.base import table_of
from app.db.engine import Database
from app.db.models import Customer, PointsBalance, PointsEntry
from app.services.loyalty import LoyaltyService
from app.services.unit_of_work import Transactions, UnitOfWork

VALIDITY_DAYS = 365
FILL_BATCH = 10_000
LEDGER_READ = (
    "SELECT customer_id, id, points, at FROM loyalty_points_ledger ORDER BY customer_id, id"
)


def plan(n: int) -> tuple[int, int, int]:
    """(old points, recent points, spent since) of customer ``n``."""
    old = 50 + n % 200
    recent = 20 + n % 30 if n % 3 == 0 else 0
    spent = old // 2 if n % 5 == 0 else 0
    return old, recent, spent


async def fill(db: Database, customers: int, now: datetime) -> int:
    """The customers, their ledgers and balances; the points that must expire."""
    old_at, recent_at = now - timedelta(days=VALIDITY_DAYS + 30), now - timedelta(days=10)
    due = 0
    for start in range(0, customers, FILL_BATCH):
        people: list[dict[str, Any]] = []
        entries: list[dict[str, Any]] = []
        balances: list[dict[str, Any]] = []
        for n in range(start, min(customers, start + FILL_BATCH)):
            cid = uuid.uuid4()
            old, recent, spent = plan(n)
            due += old - spent
            people.append(
                {
                    "id": cid,
                    "name": f"Bench {n}",
                    "name_key": f"bench {n}",
                    "phone": f"+1303{n:07d}",
                    "status": "ACTIVE",
                    "version": 1,
                    "created_at": now,
                    "updated_at": now,
                }
            )
            entry = {"customer_id": cid, "card_id": None, "reason": None, "sale_id": None}
            entry["actor_label"] = "bench"
            entries.append({**entry, "kind": "EARN", "points": old, "at": old_at})
            if spent:
                spent_at = old_at + timedelta(days=5)
                entries.append({**entry, "kind": "REDEEM", "points": -spent, "at": spent_at})
            if recent:
                entries.append({**entry, "kind": "EARN", "points": recent, "at": recent_at})
            balances.append({"customer_id": cid, "points": old + recent - spent, "updated_at": now})
        async with db.write() as session:
            await session.execute(insert(table_of(Customer)), people)
            await session.execute(insert(table_of(PointsEntry)), entries)
            await session.execute(insert(table_of(PointsBalance)), balances)
        if (start // FILL_BATCH) % 20 == 0:
            print(f"  filled {start + len(people):,} customers", flush=True)

    async def validity(uow: UnitOfWork) -> None:
        await uow.business.update({"points_validity_days": VALIDITY_DAYS})

    await Transactions(db, None).run(None, validity)
    return due


async def bare_read(database_url: str) -> tuple[float, int]:
    """The whole ledger fetched on the bare driver: (seconds, rows)."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        conn = sqlite3.connect(url.database or "")
        started = time.perf_counter()
        rows = conn.execute(LEDGER_READ).fetchall()
        elapsed = time.perf_counter() - started
        conn.close()
        return elapsed, len(rows)
    pg = await raw_connect(database_url)
    try:
        started = time.perf_counter()
        records = await pg.fetch(LEDGER_READ)
        return time.perf_counter() - started, len(records)
    finally:
        await pg.close()


async def main(args: argparse.Namespace) -> None:
    tmp = temp_dir()
    async with scratch_database(tmp, "expiry") as database_url:
        backend = make_url(database_url).get_backend_name()
        db = Database(database_url)
        now = datetime.now(UTC)
        print(f"{backend}: filling {args.customers:,} customers ...", flush=True)
        started = time.perf_counter()
        due = await fill(db, args.customers, now)
        print(f"  filled in {time.perf_counter() - started:.0f} s")
        if backend == "postgresql":
            async with db.write() as session:
                await session.execute(text("ANALYZE"))

        await bare_read(database_url)  # warms the OS page cache for both sides alike
        raw, rows = await bare_read(database_url)
        print(f"baseline: bare-driver read of {rows:,} ledger rows   {raw:8.2f} s")

        service = LoyaltyService(Transactions(db, None), None)
        kwargs: dict[str, Any] = {}
        batches: list[float] = []
        if "batch_size" in inspect.signature(service.expire_points).parameters:
            kwargs["batch_size"] = args.batch_size
            inner = LoyaltyService._expire_batch

            async def timed_batch(*a: Any) -> Any:
                began = time.perf_counter()
                try:
                    return await inner(*a)
                finally:
                    batches.append(time.perf_counter() - began)

            LoyaltyService._expire_batch = staticmethod(timed_batch)  # type: ignore[method-assign]
        started = time.perf_counter()
        report = await service.expire_points(now, **kwargs)
        elapsed = time.perf_counter() - started

        per_customer = elapsed / max(1, report.customers)
        print(
            f"expire_points: {report.customers:,} customers, {report.points:,} points"
            f"   {elapsed:8.2f} s   {per_customer * 1e6:.0f} us/customer"
            f"   {elapsed / raw:.1f}x the bare read"
        )
        if batches:
            print(
                f"  {len(batches)} batches of {args.batch_size:,}: longest transaction work"
                f" {max(batches) * 1000:.0f} ms"
            )
        print(f"  extrapolated to 1,000,000 customers: {per_customer * 1e6 / 60:.1f} min")
        async with db.read() as session:
            mismatched = await session.scalar(
                text(
                    "SELECT count(*) FROM loyalty_points_balances b WHERE b.points <> "
                    "(SELECT coalesce(sum(e.points), 0) FROM loyalty_points_ledger e "
                    "WHERE e.customer_id = b.customer_id)"
                )
            )
        if report.points != due or mismatched:
            raise SystemExit(f"wrong: expired {report.points} of {due}; {mismatched} balances off")
        print(f"  checked: {due:,} points due, every balance equals its ledger")
        await db.dispose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--batch-size", type=int, default=1000)
    asyncio.run(main(parser.parse_args()))
