"""The nightly forecast job end to end on a database: read history, forecast, write.

    .venv/bin/python bench/forecast_job.py [--products 250 --stores 4 --days 730]
    (POSCRM_DATABASE_URL=postgresql+asyncpg://… for PostgreSQL)

Fills a throwaway database with the fixed-seed synthetic shop's demand as sales (one
completed sale per store and day, a line per product sold that day), rebuilds the daily
aggregates (issue 11 §2), then times ``refresh_forecasts`` and, apart, the history read
(``daily_units_batch`` from ``sales_daily``) it starts with.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import insert

from app.db.engine import Database
from app.db.models import Product, Sale, SaleLine, Store
from app.db.repositories.forecasts import ForecastRepository
from app.domain.forecast_simulation import generate_shop
from app.services.forecasts import HISTORY_DAYS, refresh_forecasts
from app.services.sales_aggregates import rebuild
from app.services.unit_of_work import Transactions
from bench._common import scratch_database, temp_dir

TODAY = datetime(2026, 12, 7, 2, 20, tzinfo=UTC)


async def fill(db: Database, products: int, stores: int, days: int) -> int:
    shop = generate_shop(products * stores, days, seed=11)
    store_ids = [uuid.uuid4() for _ in range(stores)]
    product_ids = [uuid.uuid4() for _ in range(products)]
    now = datetime.now(UTC)
    lines = 0
    async with db.write() as session:
        await session.execute(
            insert(Store),
            [{"id": s, "code": f"B{i}", "name": f"Bench {i}"} for i, s in enumerate(store_ids)],
        )
        await session.execute(
            insert(Product),
            [
                {
                    "id": p,
                    "sku": f"B-{i}",
                    "sku_key": f"B-{i}",
                    "name": f"Bench {i}",
                    "price": Decimal("1.00"),
                    "lead_time_days": 1 + i % 5,
                    "created_at": now,
                }
                for i, p in enumerate(product_ids)
            ],
        )
    first = TODAY.replace(hour=12) - timedelta(days=days)
    for day in range(days):
        at = first + timedelta(days=day)
        sales, rows = [], []
        for s, store in enumerate(store_ids):
            sale_id = uuid.uuid4()
            sales.append(
                {
                    "id": sale_id,
                    "store_id": store,
                    "status": "COMPLETED",
                    "completed_at": at,
                    "created_at": at,
                }
            )
            for p, product in enumerate(product_ids):
                units = int(shop.demand[s * products + p, day])
                if units:
                    rows.append(
                        {
                            "id": uuid.uuid4(),
                            "sale_id": sale_id,
                            "position": len(rows),
                            "product_id": product,
                            "sku": "B",
                            "name": "B",
                            "quantity": units,
                            "unit_price": Decimal("1.00"),
                            "amount": Decimal(units),
                            "total": Decimal(units),
                        }
                    )
        async with db.write() as session:
            await session.execute(insert(Sale), sales)
            if rows:
                await session.execute(insert(SaleLine), rows)
        lines += len(rows)
    return lines


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--products", type=int, default=250)
    parser.add_argument("--stores", type=int, default=4)
    parser.add_argument("--days", type=int, default=730)
    args = parser.parse_args()
    async with scratch_database(temp_dir(), "forecast") as url:
        db = Database(url)
        try:
            began = time.perf_counter()
            lines = await fill(db, args.products, args.stores, args.days)
            print(
                f"{args.products} products × {args.stores} stores × {args.days} days:"
                f" {lines:,} sale lines in {time.perf_counter() - began:.1f} s ({db.dialect})"
            )
            began = time.perf_counter()
            await rebuild(Transactions(db, None))
            print(f"aggregates rebuilt: {time.perf_counter() - began:.2f} s")
            end = TODAY.date() - timedelta(days=1)
            start = TODAY.date() - timedelta(days=HISTORY_DAYS)
            began = time.perf_counter()
            async with db.read() as session:
                history = await ForecastRepository(session).daily_units_batch(start, end)
            read_s = time.perf_counter() - began
            print(
                f"history read (daily_units_batch from sales_daily): {read_s:.2f} s,"
                f" {len(history)} series"
            )
            began = time.perf_counter()
            run = await refresh_forecasts(Transactions(db, None), TODAY)
            print(
                f"refresh_forecasts (read + forecast + backtest + write):"
                f" {time.perf_counter() - began:.2f} s, {run.result}"
            )
            assert date.fromisoformat(run.result["firstDay"]) == TODAY.date()
        finally:
            await db.dispose()


if __name__ == "__main__":
    asyncio.run(main())
