"""Daily aggregates (issue 11 §2, §4): full rebuild, one night's update, reports on a year.

Usage: ``.venv/bin/python bench/aggregates.py [--stores 20 --days 365 --sales-per-day 100
--night-sales 30000]``. With ``POSCRM_DATABASE_URL=postgresql+asyncpg://…`` it runs on
PostgreSQL (a database of its own, created and dropped); otherwise on a SQLite file.

Fills a chain's year of sales (weekly and yearly seasonality, 1-5 lines a sale, a few
discounts, returns and redemptions; written with SQLAlchemy Core, not through the till),
then measures, each against a baseline in the same run:

1. the full rebuild (``SalesAggregateRepository.recompute()``: delete, then INSERT …
   SELECT … GROUP BY per table, one transaction) against the same GROUP BYs read whole on
   the bare driver (sqlite3 / asyncpg); for the product table alone, also against a
   plain ``SUM(quantity), SUM(total) … GROUP BY day, store, product`` of the same lines;
2. one night: a chain day of ``--night-sales`` sales and 100 late returns on older days,
   then the nightly work (``refresh_days``: that day, the dirty days, then segments);
3. ``salesReport`` over the whole year through the service, for each groupBy, against the
   same report read from the daily tables alone (``months=False``: no monthly rollup).

``--skip-rebuild --skip-reports`` times the night alone (the history is still aggregated
once, untimed, as the nights before would have left it); ``--profile`` then prints where
one more night's time went, by statement (the time each spent in the database driver).
"""

from __future__ import annotations

import argparse
import asyncio
import math
import random
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from _common import bare, scratch_database, temp_dir
from sqlalchemy import event, insert, text
from sqlalchemy.engine import make_url

from app.db.base import table_of
from app.db.engine import Database
from app.db.models import (
    Customer,
    CustomerSalesStats,
    Product,
    Role,
    Sale,
    SaleDiscount,
    SaleLine,
    StaffUser,
    Store,
)
from app.db.repositories.sales_aggregates import SalesAggregateRepository, Span
from app.db.repositories.sales_reports import SalesReportRepository
from app.db.repositories.sales_rollups import SalesRollupRepository
from app.domain.reports import SalesReportDimension as D
from app.domain.reports import SalesReportQuery, grain_of
from app.services.sales_aggregates import refresh_days
from app.services.sales_reports import SalesReportService
from app.services.segments import refresh_segments
from app.services.unit_of_work import Transactions, UnitOfWork

PRODUCTS = 500
CUSTOMERS = 20_000
CATEGORIES = ("Tea", "Coffee", "Snacks", "Ware", "Gifts", "Fresh", "Bakery", "Drinks")
BATCH = 5000
ZERO = Decimal("0.00")
GROUP_BYS: list[tuple[D, ...]] = [
    (),
    (D.DAY,),
    (D.WEEK,),
    (D.MONTH,),
    (D.STORE,),
    (D.PRODUCT,),
    (D.CATEGORY,),
    (D.CASHIER,),
    (D.PAYMENT,),
    (D.SEGMENT,),
    (D.MONTH, D.STORE),
    (D.MONTH, D.CATEGORY),
    (D.DAY, D.STORE),
    (D.PRODUCT, D.STORE),
    (D.WEEK, D.PAYMENT, D.SEGMENT),
]


class Chain:
    def __init__(self, rng: random.Random, stores: int) -> None:
        self.rng = rng
        self.store_ids = [uuid.uuid4() for _ in range(stores)]
        self.cashiers = {s: [uuid.uuid4() for _ in range(3)] for s in self.store_ids}
        self.products = [
            (uuid.uuid4(), f"SKU-{n:04d}", Decimal(rng.randrange(99, 2999)) / 100)
            for n in range(PRODUCTS)
        ]
        # A few products sell most: weight ~ 1/rank.
        self.weights = [1 / (n + 1) for n in range(PRODUCTS)]
        self.customer_ids = [uuid.uuid4() for _ in range(CUSTOMERS)]
        self.stats: dict[uuid.UUID, list[Any]] = {}

    def sales_of_day(
        self, day: date, per_store: float
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
        rng = self.rng
        sales: list[dict[str, Any]] = []
        lines: list[dict[str, Any]] = []
        discounts: list[dict[str, Any]] = []
        for store_id in self.store_ids:
            for _ in range(max(1, round(rng.gauss(per_store, per_store * 0.1)))):
                sale_id = uuid.uuid4()
                moment = datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(
                    seconds=rng.randrange(8 * 3600, 21 * 3600)
                )
                customer = rng.choice(self.customer_ids) if rng.random() < 0.6 else None
                percent = Decimal(10) if customer and rng.random() < 0.2 else ZERO
                subtotal = discount_total = ZERO
                chosen = rng.choices(self.products, self.weights, k=rng.randint(1, 5))
                for position, (product_id, sku, price) in enumerate(chosen, start=1):
                    quantity = rng.randint(1, 3)
                    amount = price * quantity
                    discount = (amount * percent / 100).quantize(Decimal("0.01"))
                    returned = 1 if rng.random() < 0.01 else 0
                    total = amount - discount
                    lines.append(
                        {
                            "id": uuid.uuid4(),
                            "sale_id": sale_id,
                            "position": position,
                            "product_id": product_id,
                            "sku": sku,
                            "name": sku,
                            "quantity": quantity,
                            "unit_price": price,
                            "amount": amount,
                            "discount": discount,
                            "total": total,
                            "returned_quantity": returned,
                            "returned_value": (total / quantity).quantize(Decimal("0.01"))
                            if returned
                            else ZERO,
                        }
                    )
                    subtotal += amount
                    discount_total += discount
                total = subtotal - discount_total
                if percent:
                    discounts.append(
                        {
                            "sale_id": sale_id,
                            "source": "GROUP",
                            "code": "VIP",
                            "percent": percent,
                            "amount": discount_total,
                            "applied": True,
                        }
                    )
                sales.append(
                    {
                        "id": sale_id,
                        "store_id": store_id,
                        "cashier_id": rng.choice(self.cashiers[store_id]),
                        "customer_id": customer,
                        "status": "COMPLETED",
                        "subtotal": subtotal,
                        "discount_total": discount_total,
                        "total": total,
                        "payment": rng.choices(("CASH", "CARD", "CREDIT"), (4, 5, 1))[0],
                        "points_redeemed": rng.randrange(50, 500)
                        if customer and rng.random() < 0.05
                        else 0,
                        "customer_segment": rng.choice(("NEW", "REPEAT", "LOYAL", "AT_RISK"))
                        if customer
                        else None,
                        "created_at": moment,
                        "completed_at": moment,
                    }
                )
                if customer:
                    visits = self.stats.setdefault(customer, [0, 0, moment, moment])
                    visits[0] += 1
                    visits[1] += int(total * 100)
                    visits[2] = min(visits[2], moment)
                    visits[3] = max(visits[3], moment)
        return sales, lines, discounts


def seasonal(day: date, base: float) -> float:
    weekday = (0.8, 0.8, 0.9, 1.0, 1.2, 1.5, 0.8)[day.weekday()]
    year = 1 + 0.25 * math.sin(2 * math.pi * (day.timetuple().tm_yday - 80) / 365)
    return base * weekday * year


async def write(db: Database, model: Any, rows: list[dict[str, Any]]) -> None:
    table = table_of(model)
    for start in range(0, len(rows), BATCH):
        async with db.write() as session:
            await session.execute(insert(table), rows[start : start + BATCH])


async def fill(db: Database, chain: Chain, days: list[date], per_store: float) -> int:
    now = datetime.now(UTC)
    await write(
        db,
        Store,
        [
            {
                "id": s,
                "code": f"B{n:02d}",
                "name": f"Store {n}",
                "is_head_office": False,
                "created_at": now,
            }
            for n, s in enumerate(chain.store_ids)
        ],
    )
    role = uuid.uuid4()
    await write(
        db, Role, [{"id": role, "name": "bench-till", "permissions": [], "created_at": now}]
    )
    await write(
        db,
        StaffUser,
        [
            {
                "id": c,
                "username": f"cashier-{c.hex[:8]}",
                "password_hash": "-",
                "role_id": role,
                "is_active": True,
                "created_at": now,
            }
            for cs in chain.cashiers.values()
            for c in cs
        ],
    )
    await write(
        db,
        Product,
        [
            {
                "id": p,
                "sku": sku,
                "sku_key": sku.lower(),
                "name": sku,
                "category": CATEGORIES[n % len(CATEGORIES)],
                "price": price,
                "created_at": now,
            }
            for n, (p, sku, price) in enumerate(chain.products)
        ],
    )
    await write(
        db,
        Customer,
        [
            {
                "id": c,
                "name": f"Bench {n}",
                "name_key": f"bench {n}",
                "phone": f"+1303{n:07d}",
                "status": "ACTIVE",
                "version": 1,
                "created_at": now,
                "updated_at": now,
            }
            for n, c in enumerate(chain.customer_ids)
        ],
    )
    lines_written = 0
    for n, day in enumerate(days):
        sales, lines, discounts = chain.sales_of_day(day, seasonal(day, per_store))
        await write(db, Sale, sales)
        await write(db, SaleLine, lines)
        await write(db, SaleDiscount, discounts)
        lines_written += len(lines)
        if n % 30 == 0:
            print(f"  filled {n + 1}/{len(days)} days, {lines_written:,} lines", flush=True)
    return lines_written


async def write_stats(db: Database, chain: Chain) -> None:
    async with db.write() as session:
        await session.execute(table_of(CustomerSalesStats).delete())
    await write(
        db,
        CustomerSalesStats,
        [
            {
                "customer_id": c,
                "visits": v,
                "spent_cents": cents,
                "credit_cents": 0,
                "first_purchase_at": first,
                "last_purchase_at": last,
            }
            for c, (v, cents, first, last) in chain.stats.items()
        ],
    )


async def timed(work: Callable[[], Awaitable[Any]]) -> tuple[float, Any]:
    started = time.perf_counter()
    value = await work()
    return time.perf_counter() - started, value


@contextmanager
def statement_profile(db: Database) -> Iterator[dict[str, float]]:
    """Seconds spent in each statement (by its first words) while the block runs."""
    spent: dict[str, float] = {}
    engine = db.write_engine.sync_engine

    def before(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        conn.info["bench_started"] = time.perf_counter()

    def after(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        key = " ".join(statement.split())[:90]
        elapsed = time.perf_counter() - conn.info.pop("bench_started")
        spent[key] = spent.get(key, 0.0) + elapsed

    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "after_cursor_execute", after)
    try:
        yield spent
    finally:
        event.remove(engine, "before_cursor_execute", before)
        event.remove(engine, "after_cursor_execute", after)


def compiled(db: Database, query: Any) -> str:
    return str(query.compile(dialect=db.engine.dialect, compile_kwargs={"literal_binds": True}))


async def main(args: argparse.Namespace) -> None:
    rng = random.Random(11)
    tmp = temp_dir()
    async with scratch_database(tmp, "aggregates") as database_url:
        backend = make_url(database_url).get_backend_name()
        db = Database(database_url)
        tx = Transactions(db, None)
        chain = Chain(rng, args.stores)
        today = datetime.now(UTC).date()
        night = today - timedelta(days=1)
        days = [night - timedelta(days=n) for n in range(args.days, 0, -1)]
        print(f"{backend}: filling {args.stores} stores x {args.days} days ...", flush=True)
        started = time.perf_counter()
        lines = await fill(db, chain, days, args.sales_per_day)
        await write_stats(db, chain)
        print(f"  {lines:,} sale lines in {time.perf_counter() - started:.0f} s")
        if backend == "postgresql":
            async with db.write() as session:
                await session.execute(text("ANALYZE"))

        # 1. Full rebuild against the same GROUP BYs, bare.
        if args.skip_rebuild:
            # The night still needs last night's aggregates (segments read customer_daily).
            async with db.write() as session:
                await SalesAggregateRepository(session).recompute()
                await SalesRollupRepository(session).rebuild()
        async with db.read() as session:
            selects = SalesAggregateRepository(session).selects()
        products_sql = compiled(db, selects[next(iter(selects))])
        all_sql = [compiled(db, q) for q in selects.values()]
        day_sql = (
            "date(s.completed_at)"
            if backend == "sqlite"
            else "(s.completed_at AT TIME ZONE 'UTC')::date"
        )
        plain_sql = (
            f"SELECT {day_sql}, s.store_id, l.product_id, SUM(l.quantity), SUM(l.total) "  # noqa: S608
            "FROM sales s JOIN sale_lines l ON l.sale_id = s.id WHERE s.status = 'COMPLETED' "
            f"GROUP BY {day_sql}, s.store_id, l.product_id"
        )

        async def rebuild_products() -> None:
            async with db.write() as session:
                repository = SalesAggregateRepository(session)
                query = repository.selects()[next(iter(selects))]
                table = table_of(next(iter(selects)))
                connection = await session.connection()
                # As recompute() rebuilds: the series index built once, after the rows.
                await session.execute(text("DELETE FROM sales_daily"))
                for index in table.indexes:
                    await connection.run_sync(index.drop)
                await session.execute(
                    insert(table).from_select(list(query.selected_columns.keys()), query)
                )
                for index in table.indexes:
                    await connection.run_sync(index.create)

        async def rebuild_all() -> int:
            async with db.write() as session:
                return await SalesAggregateRepository(session).recompute()

        async def rebuild_rollup() -> int:
            async with db.write() as session:
                return await SalesRollupRepository(session).rebuild()

        runs: dict[str, list[float]] = {
            k: [] for k in ("plain", "same", "product", "all_bare", "all", "rollup")
        }
        for _ in range(0 if args.skip_rebuild else args.repeat):
            runs["plain"].append(await bare(database_url, [plain_sql]))
            runs["same"].append(await bare(database_url, [products_sql]))
            runs["product"].append((await timed(rebuild_products))[0])
            runs["all_bare"].append(await bare(database_url, all_sql))
            runs["all"].append((await timed(rebuild_all))[0])
            runs["rollup"].append((await timed(rebuild_rollup))[0])
        if not args.skip_rebuild:
            best = {k: min(v) for k, v in runs.items()}
            async with db.read() as session:
                found = await session.execute(text("SELECT COUNT(*) FROM sales_daily"))
                fact_rows = found.scalar()
            print(f"\n1. full rebuild over {lines:,} sale lines, best of {args.repeat}")
            print(f"  ({fact_rows:,} product x store x day rows)")
            print(f"  plain GROUP BY day, store, product (bare)       {best['plain']:8.2f} s")
            print(f"  the fact table's GROUP BY, read whole (bare)     {best['same']:8.2f} s")
            print(
                f"  fact table rebuilt (delete + INSERT … SELECT)    {best['product']:8.2f} s"
                f"   {best['product'] / best['plain']:.2f}x plain,"
                f" {best['product'] / best['same']:.2f}x same"
            )
            print(f"  all four GROUP BYs, read whole (bare)            {best['all_bare']:8.2f} s")
            print(
                f"  all four tables rebuilt (recompute())            {best['all']:8.2f} s"
                f"   {best['all'] / best['all_bare']:.2f}x their GROUP BYs"
            )
            print(f"  the monthly rollup rebuilt from sales_daily      {best['rollup']:8.2f} s")

        # 2. One night: a chain day of --night-sales sales, and late returns on old days.
        per_store = args.night_sales / args.stores
        rng.seed(12)
        sales, night_lines, discounts = chain.sales_of_day(night, per_store)
        await write(db, Sale, sales)
        await write(db, SaleLine, night_lines)
        await write(db, SaleDiscount, discounts)
        await write_stats(db, chain)

        # The previous night's segments, so that this night writes only what changed.
        first_segments, _ = await timed(
            lambda: tx.run(None, lambda uow: refresh_segments(uow, night))
        )
        marks_made = {(rng.choice(days), rng.choice(chain.store_ids)) for _ in range(100)}

        async def late_returns(uow: UnitOfWork) -> None:
            aggregates = SalesAggregateRepository(uow.session)
            for day, store_id in marks_made:
                await aggregates.mark(day, store_id, uow.now)

        await tx.run(None, late_returns)
        if backend == "postgresql":
            async with db.write() as session:
                await session.execute(text("ANALYZE"))

        async def only_aggregates() -> dict[str, Any]:
            async with db.write() as session:
                repository = SalesAggregateRepository(session)
                marks = await repository.dirty()
                stale: dict[date, list[uuid.UUID]] = {}
                for day, store_id, _ in marks:
                    stale.setdefault(day, []).append(store_id)
                spans = [Span(night, night + timedelta(days=1))] + [
                    Span(d, d + timedelta(days=1), tuple(ids)) for d, ids in stale.items()
                ]
                # As refresh_days does: the monthly rollup follows by the spans' delta.
                rollups = SalesRollupRepository(session)
                await rollups.take_out(spans)
                rows = await repository.recompute(spans)
                await rollups.put_in(spans)
                return {"rows": rows, "dirty": len(marks)}

        aggregate_times = [(await timed(only_aggregates))[0] for _ in range(args.repeat)]
        # The same-run floor: the night's lines in one plain GROUP BY, bare.
        lo, hi = night.isoformat(), (night + timedelta(days=1)).isoformat()
        night_range = (
            f"s.completed_at >= '{lo}' AND s.completed_at < '{hi}'"
            if backend == "sqlite"
            else f"s.completed_at >= '{lo}T00:00:00+00' AND s.completed_at < '{hi}T00:00:00+00'"
        )
        night_plain = plain_sql.replace("WHERE ", f"WHERE {night_range} AND ")
        night_floor = min([await bare(database_url, [night_plain]) for _ in range(args.repeat)])

        async def whole_night() -> Any:
            return await tx.run(None, lambda uow: refresh_days(uow, night))

        night_time, outcome = await timed(whole_night)
        print(f"\n2. one night: {len(sales):,} sales, {len(night_lines):,} lines that day,")
        print(f"  and {len(marks_made)} (day, store) marked by late returns:")
        aggregates_best = min(aggregate_times)
        print(f"  plain GROUP BY of that day's lines (bare)  {night_floor:8.3f} s")
        print(
            f"  aggregates (the day, then the dirty days)  {aggregates_best:8.3f} s   target 0.5 s"
        )
        print(f"  segments of {len(chain.stats):,} customers from scratch  {first_segments:8.3f} s")
        print(
            f"  the nightly job (aggregates + segments)     {night_time:8.3f} s   {outcome.value}"
        )
        if args.profile:
            with statement_profile(db) as spent:
                await tx.run(None, lambda uow: refresh_days(uow, night))
            print("\n  where one more night's time went, by statement (the database's share):")
            for statement, seconds in sorted(spent.items(), key=lambda kv: -kv[1])[:12]:
                print(f"  {seconds:8.3f} s  {statement}")

        if args.skip_reports:
            await db.dispose()
            return
        # 3. Reports over the year.
        service = SalesReportService(tx, None)
        start, end = days[0], night
        print(f"\n3. salesReport over {start} .. {end}, median of 3 through the service,")
        print("  and the same from the daily tables alone (no monthly rollup):")
        worst = 0.0

        async def daily_only(q: SalesReportQuery) -> Any:
            async with db.read() as session:
                return await SalesReportRepository(session).sales_report(
                    q, grain_of(q), months=False
                )

        for dimensions in GROUP_BYS:
            query = SalesReportQuery(start, end, dimensions)
            times, alone = [], []
            for _ in range(3):
                elapsed, rows = await timed(lambda q=query: service.sales_report(q))
                times.append(elapsed)
                alone.append((await timed(lambda q=query: daily_only(q)))[0])
            median = statistics.median(times)
            worst = max(worst, median)
            name = ", ".join(d.value for d in dimensions) or "(total)"
            print(
                f"  {name:28s} {len(rows):8,} rows   {median * 1000:8.1f} ms"
                f"   daily alone {statistics.median(alone) * 1000:8.1f} ms"
            )
        print(f"  slowest groupBy: {worst * 1000:.0f} ms")
        await db.dispose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--stores", type=int, default=20)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--sales-per-day", type=float, default=100, help="per store, average")
    parser.add_argument("--night-sales", type=int, default=30_000)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--skip-rebuild", action="store_true", help="part 2 (the night) only")
    parser.add_argument("--skip-reports", action="store_true")
    parser.add_argument("--profile", action="store_true", help="time each statement of a night")
    asyncio.run(main(parser.parse_args()))
