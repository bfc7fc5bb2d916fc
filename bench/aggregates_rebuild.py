"""The daily aggregates' full rebuild at scale (issue 11 §2: 10M lines, ≤ 1.2x a plain GROUP BY).

Usage: ``.venv/bin/python bench/aggregates_rebuild.py [--lines 1000000 --repeat 2]``
(``--lines 10000000`` for the target). With ``POSCRM_DATABASE_URL=postgresql+asyncpg://…``
it runs on PostgreSQL (a database of its own, created and dropped); otherwise on a SQLite
file in a temporary folder (deleted afterwards). Both are migrated by the app's migrations.

bench/aggregates.py fills through SQLAlchemy Core from Python, an hour for 10M lines; here
the stores, cashiers, products and customers are written through Core, and the sales, lines
and discounts are generated inside the database, set-based (about 3 lines a sale, 20
stores, 500 products of skewed popularity, 20,000 customers on 60% of sales, ~3% of sales
discounted with their ``sale_discounts`` row, 1% of lines returned, 0.5% of sales voided,
over two years of days), in the app's storage formats: on SQLite UUIDs as 32 lowercase hex
characters, money as ``'12.30'`` text, times as naive UTC ``'YYYY-MM-DD HH:MM:SS.ffffff'``.
A few rows are read back through the ORM, and the rebuilt aggregates' totals are checked
against direct sums over the lines. On PostgreSQL the fill turns foreign-key triggers off
for its own session (``session_replication_role``: the role must be a superuser). Sizes
measured on 2026-12-07 (bench/README.md): 1M lines fill in about 2-3 minutes; 10M lines on
PostgreSQL in 19 minutes and 3.8 GiB, then ~9 minutes a repeat, on a loaded 2-core machine.

Then, best of ``--repeat``, each on the same data in the same run:

1. the plain ``SELECT day, store_id, product_id, SUM(quantity), SUM(total) … GROUP BY``
   fetched whole on the bare driver (sqlite3 / asyncpg): the issue's baseline;
2. the four aggregate tables' GROUP BYs (``SalesAggregateRepository.selects()``), fetched
   whole on the bare driver;
3. ``SalesAggregateRepository.recompute()``: all four tables deleted and rewritten, one
   transaction, through the app's engine.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import sqlite3
import time
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from _common import bare, raw_connect, scratch_database, temp_dir
from sqlalchemy import func, insert, select, text
from sqlalchemy.engine import make_url

from app.db.base import table_of
from app.db.engine import Database
from app.db.models import (
    Customer,
    Product,
    Role,
    Sale,
    SaleDiscount,
    SaleLine,
    SalesDaily,
    SalesDailyDiscount,
    SalesDailyMix,
    StaffUser,
    Store,
)
from app.db.repositories.sales_aggregates import SalesAggregateRepository

STORES = 20
CASHIERS_PER_STORE = 3
PRODUCTS = 500
CUSTOMERS = 20_000
DAYS = 730
CATEGORIES = ("Tea", "Coffee", "Snacks", "Ware", "Gifts", "Fresh", "Bakery", "Drinks")
FILLED = ("sales", "sale_lines", "sale_discounts")


# -- the small tables, through Core (the app's own storage of every type) -------------


async def write_chain(db: Database, rng: random.Random) -> dict[str, list[Any]]:
    now = datetime.now(UTC)
    stores = [uuid.uuid4() for _ in range(STORES)]
    cashiers = [(n, k, uuid.uuid4()) for n in range(STORES) for k in range(CASHIERS_PER_STORE)]
    products = [(n, uuid.uuid4(), f"SKU-{n:04d}", rng.randrange(99, 2999)) for n in range(PRODUCTS)]
    customers = [uuid.uuid4() for _ in range(CUSTOMERS)]
    role = uuid.uuid4()
    async with db.write() as session:
        await session.execute(
            insert(table_of(Store)),
            [
                {"id": s, "code": f"B{n:02d}", "name": f"Store {n}", "is_head_office": False}
                | {"created_at": now}
                for n, s in enumerate(stores)
            ],
        )
        await session.execute(
            insert(table_of(Role)),
            [{"id": role, "name": "bench-till", "permissions": [], "created_at": now}],
        )
        await session.execute(
            insert(table_of(StaffUser)),
            [
                {
                    "id": c,
                    "username": f"cashier-{n:02d}-{k}",
                    "password_hash": "-",
                    "role_id": role,
                    "store_id": stores[n],
                    "is_active": True,
                    "created_at": now,
                }
                for n, k, c in cashiers
            ],
        )
        await session.execute(
            insert(table_of(Product)),
            [
                {
                    "id": p,
                    "sku": sku,
                    "sku_key": sku.lower(),
                    "name": sku,
                    "category": CATEGORIES[n % len(CATEGORIES)],
                    "price": Decimal(cents) / 100,
                    "created_at": now,
                }
                for n, p, sku, cents in products
            ],
        )
        await session.execute(
            insert(table_of(Customer)),
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
                for n, c in enumerate(customers)
            ],
        )
    return {
        "stores": list(enumerate(stores)),
        "cashiers": cashiers,
        "products": products,
        "customers": list(enumerate(customers)),
    }


# -- the big tables, set-based inside the database ------------------------------------
#
# The same plan on both dialects: g_sales (one row a sale, its random draws), g_lines (one
# row a line, its money in integer cents), g_totals (each sale's sums), then sales, lines
# and discounts inserted from them in sale order (as tills write them: by time).

# One random draw a column: a subquery's draw used twice could be drawn twice (SQLite
# may flatten it), so derived values (a customer's discount, say) are computed from
# stored draws, in views.
DRAWS = """
    store_no, cashier_k, c, customer_raw, day_no, second, micro, pay, seg, k, luck, points_raw
"""
SALE_VIEW = """CREATE TEMP VIEW g_sale AS
    SELECT n, id, store_no, cashier_k, CASE WHEN c < 60 THEN customer_raw END AS customer_no,
      day_no, second, micro, pay, seg, c < 60 AND luck < 50 AS discounted,
      luck >= 995 AS voided,
      CASE WHEN c < 60 AND luck BETWEEN 50 AND 99 THEN 50 + points_raw ELSE 0 END AS points
    FROM g_sales"""
MONEY_VIEW = """CREATE TEMP VIEW g_money AS
    SELECT n, position, id, product_no, quantity, returned, amount_c, discount_c,
      amount_c - discount_c AS total_c,
      CASE WHEN returned = 1
        THEN (amount_c - discount_c + quantity / 2) / quantity ELSE 0 END AS returned_c
    FROM (
      SELECT l.n, l.position, l.id, l.product_no, l.quantity, l.returned,
        pr.price_c * l.quantity AS amount_c,
        CASE WHEN s.discounted THEN (pr.price_c * l.quantity + 5) / 10 ELSE 0 END AS discount_c
      FROM g_lines l JOIN g_sale s ON s.n = l.n JOIN g_products pr ON pr.no = l.product_no
    ) x"""
TOTALS = """CREATE TEMP TABLE g_totals AS
    SELECT n, SUM(amount_c) AS amount_c, SUM(discount_c) AS discount_c,
      SUM(total_c) AS total_c, SUM(returned_c) AS returned_c
    FROM g_money GROUP BY n"""


def writes(money: Any, moment: str, zero: str, percent: str, yes: str) -> list[str]:
    """Sales, lines and discounts from the draws, in sale order (as tills write: by time)."""
    return [
        f"""INSERT INTO sales (id, store_id, till_id, cashier_id, cashier_label, customer_id,
          status, version, subtotal, discount_total, total, payment, points_redeemed,
          points_amount, paid, points_earned, returned_value, refunded, points_restored,
          points_reversed, exchange_for_sale_id, created_at, updated_at, completed_at,
          voided_at, customer_segment, void_reason)
        SELECT s.id, st.id, NULL, ca.id, 'cashier ' || s.cashier_k, cu.id,
          CASE WHEN s.voided THEN 'VOIDED' ELSE 'COMPLETED' END, 1,
          {money("t.amount_c")}, {money("t.discount_c")}, {money("t.total_c")},
          CASE WHEN s.pay < 4 THEN 'CASH' WHEN s.pay < 9 THEN 'CARD'
            WHEN cu.id IS NULL THEN 'CASH' ELSE 'CREDIT' END,
          s.points, {zero}, {money("t.total_c")},
          CASE WHEN cu.id IS NULL THEN 0 ELSE t.total_c / 100 END,
          {money("t.returned_c")}, {money("t.returned_c")}, 0, 0, NULL,
          {moment}, {moment}, {moment}, CASE WHEN s.voided THEN {moment} END,
          CASE WHEN cu.id IS NOT NULL THEN
            CASE s.seg WHEN 0 THEN 'NEW' WHEN 1 THEN 'REPEAT' WHEN 2 THEN 'LOYAL'
              ELSE 'AT_RISK' END END,
          CASE WHEN s.voided THEN 'bench' END
        FROM g_sale s
        JOIN g_totals t ON t.n = s.n
        JOIN g_stores st ON st.no = s.store_no
        JOIN g_cashiers ca ON ca.store_no = s.store_no AND ca.k = s.cashier_k
        LEFT JOIN g_customers cu ON cu.no = s.customer_no
        ORDER BY s.n""",  # noqa: S608
        f"""INSERT INTO sale_lines (id, sale_id, position, product_id, sku, name, quantity,
          unit_price, amount, discount, total, returned_quantity, returned_value, list_price,
          price_override_by, price_override_staff_id, price_override_till_id)
        SELECT l.id, s.id, l.position, p.id, p.sku, p.sku, l.quantity, {money("p.price_c")},
          {money("l.amount_c")}, {money("l.discount_c")}, {money("l.total_c")},
          l.returned, {money("l.returned_c")}, NULL, NULL, NULL, NULL
        FROM g_money l JOIN g_sales s ON s.n = l.n JOIN g_products p ON p.no = l.product_no
        ORDER BY l.n, l.position""",  # noqa: S608
        f"""INSERT INTO sale_discounts (sale_id, source, code, percent, amount, applied)
        SELECT s.id, 'GROUP', 'VIP', {percent}, {money("t.discount_c")}, {yes}
        FROM g_sale s JOIN g_totals t ON t.n = s.n WHERE s.discounted ORDER BY s.n""",  # noqa: S608
    ]


def sqlite_fill_sql(sales: int, start: str) -> list[str]:
    def money(cents: str) -> str:
        return f"printf('%d.%02d', ({cents}) / 100, ({cents}) % 100)"

    def r(n: int) -> str:
        return f"(abs(random()) % {n})"

    moment = (
        f"datetime('{start}', '+' || s.day_no || ' days', '+' || s.second || ' seconds')"
        " || printf('.%06d', s.micro)"
    )
    return [
        f"CREATE TEMP TABLE g_sales (n INTEGER PRIMARY KEY, id TEXT, {DRAWS})",
        f"""INSERT INTO g_sales
        WITH RECURSIVE r(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM r WHERE n < {sales - 1})
        SELECT n, lower(hex(randomblob(16))), {r(STORES)}, {r(CASHIERS_PER_STORE)}, {r(100)},
          {r(CUSTOMERS)}, n * {DAYS} / {sales}, 28800 + {r(46800)}, {r(1000000)}, {r(10)},
          {r(4)}, 1 + {r(5)}, {r(1000)}, {r(450)}
        FROM r""",  # noqa: S608
        SALE_VIEW,
        # Popularity skewed as a product of two uniform draws: low numbers sell most.
        f"""CREATE TEMP TABLE g_lines AS
        SELECT s.n AS n, p.position AS position, lower(hex(randomblob(16))) AS id,
          {r(PRODUCTS)} * {r(PRODUCTS)} / {PRODUCTS} AS product_no,
          1 + {r(3)} AS quantity, CASE WHEN {r(100)} = 0 THEN 1 ELSE 0 END AS returned
        FROM g_sales s JOIN g_positions p ON p.position <= s.k
        ORDER BY s.n, p.position""",  # noqa: S608
        MONEY_VIEW,
        TOTALS,
        "CREATE UNIQUE INDEX g_totals_n ON g_totals (n)",
        *writes(money, moment, "'0.00'", "'10.00'", "1"),
    ]


def postgres_fill_sql(sales: int, start: str) -> list[str]:
    def money(cents: str) -> str:
        return f"(({cents})::numeric / 100)::numeric(14, 2)"

    def r(n: int) -> str:
        return f"(floor(random() * {n})::int)"

    moment = (
        f"(timestamptz '{start} 00:00:00+00' + s.day_no * interval '1 day'"
        " + s.second * interval '1 second' + s.micro * interval '1 microsecond')"
    )
    return [
        f"""CREATE TEMP TABLE g_sales AS
        SELECT n, gen_random_uuid() AS id, {r(STORES)} AS store_no,
          {r(CASHIERS_PER_STORE)} AS cashier_k, {r(100)} AS c, {r(CUSTOMERS)} AS customer_raw,
          (n::bigint * {DAYS} / {sales})::int AS day_no, 28800 + {r(46800)} AS second,
          {r(1000000)} AS micro, {r(10)} AS pay, {r(4)} AS seg, 1 + {r(5)} AS k,
          {r(1000)} AS luck, {r(450)} AS points_raw
        FROM generate_series(0, {sales - 1}) AS n""",  # noqa: S608
        "ALTER TABLE g_sales ADD PRIMARY KEY (n)",
        SALE_VIEW,
        f"""CREATE TEMP TABLE g_lines AS
        SELECT s.n, p AS position, gen_random_uuid() AS id,
          {r(PRODUCTS)} * {r(PRODUCTS)} / {PRODUCTS} AS product_no,
          1 + {r(3)} AS quantity, CASE WHEN random() < 0.01 THEN 1 ELSE 0 END AS returned
        FROM g_sales s CROSS JOIN LATERAL generate_series(1, s.k) AS p""",  # noqa: S608
        MONEY_VIEW,
        TOTALS,
        "ALTER TABLE g_totals ADD PRIMARY KEY (n)",
        "ANALYZE g_sales, g_lines, g_totals",
        *writes(money, moment, "0", "10.00", "true"),
    ]


MAPS = (
    "CREATE TEMP TABLE g_positions (position INTEGER PRIMARY KEY)",
    "CREATE TEMP TABLE g_stores (no INTEGER PRIMARY KEY, id {uuid})",
    "CREATE TEMP TABLE g_cashiers (store_no INTEGER, k INTEGER, id {uuid},"
    " PRIMARY KEY (store_no, k))",
    "CREATE TEMP TABLE g_products (no INTEGER PRIMARY KEY, id {uuid}, sku TEXT, price_c INTEGER)",
    "CREATE TEMP TABLE g_customers (no INTEGER PRIMARY KEY, id {uuid})",
)


def map_rows(chain: dict[str, list[Any]], stored: Any) -> dict[str, list[tuple[Any, ...]]]:
    return {
        "g_positions": [(p,) for p in range(1, 6)],
        "g_stores": [(n, stored(s)) for n, s in chain["stores"]],
        "g_cashiers": [(n, k, stored(c)) for n, k, c in chain["cashiers"]],
        "g_products": [(n, stored(p), sku, cents) for n, p, sku, cents in chain["products"]],
        "g_customers": [(n, stored(c)) for n, c in chain["customers"]],
    }


def label(statement: str) -> str:
    return " ".join(statement.split()[:4])


def secondary_indexes_sqlite(conn: sqlite3.Connection) -> list[tuple[str, str]]:
    names = ", ".join(f"'{t}'" for t in FILLED)
    return conn.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"  # noqa: S608
        f" AND tbl_name IN ({names})"
    ).fetchall()


def fill_sqlite(path: str, chain: dict[str, list[Any]], sales: int, start: str) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    # A bench's throwaway file: no fsync, a big page cache; its indexes are built after the
    # rows (one sort each) rather than kept up row by row in random UUID order.
    conn.execute("PRAGMA synchronous=OFF")
    conn.execute("PRAGMA cache_size=-1000000")
    indexes = secondary_indexes_sqlite(conn)
    conn.execute("BEGIN")
    for name, _ in indexes:
        conn.execute(f'DROP INDEX "{name}"')
    for ddl in MAPS:
        conn.execute(ddl.format(uuid="TEXT"))
    for table, rows in map_rows(chain, lambda u: u.hex).items():
        marks = ", ".join("?" * len(rows[0]))
        conn.executemany(f"INSERT INTO {table} VALUES ({marks})", rows)  # noqa: S608
    for statement in sqlite_fill_sql(sales, start):
        step = time.perf_counter()
        conn.execute(statement)
        print(f"    {label(statement):48s} {time.perf_counter() - step:6.1f} s", flush=True)
    for _, sql in indexes:
        conn.execute(sql)
    conn.execute("COMMIT")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()


async def fill_postgres(url: str, chain: dict[str, list[Any]], sales: int, start: str) -> None:
    conn = await raw_connect(url)
    try:
        indexes = await conn.fetch(
            "SELECT i.indexname, i.indexdef FROM pg_indexes i WHERE i.tablename = ANY($1)"
            " AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)",
            list(FILLED),
        )
        await conn.execute("SET synchronous_commit = off")
        # The rows are consistent by construction: foreign keys unchecked (the triggers
        # that check them off, superuser only), as a bulk load does.
        await conn.execute("SET session_replication_role = replica")
        await conn.execute("SET work_mem = '256MB'")
        await conn.execute("SET maintenance_work_mem = '512MB'")
        async with conn.transaction():
            for row in indexes:
                await conn.execute(f'DROP INDEX "{row["indexname"]}"')
            for ddl in MAPS:
                await conn.execute(ddl.format(uuid="uuid"))
            for table, rows in map_rows(chain, lambda u: u).items():
                await conn.copy_records_to_table(table, records=rows)
            for statement in postgres_fill_sql(sales, start):
                step = time.perf_counter()
                await conn.execute(statement)
                print(f"    {label(statement):48s} {time.perf_counter() - step:6.1f} s", flush=True)
            for row in indexes:
                await conn.execute(row["indexdef"])
        await conn.execute("VACUUM ANALYZE")
    finally:
        await conn.close()


# -- checks ----------------------------------------------------------------------------


async def check_rows(db: Database) -> None:
    """A few rows back through the ORM, found again by their ids: the storage is the app's."""
    async with db.read() as session:
        sales = (await session.scalars(select(Sale).limit(3))).all()
        for sale in sales:
            again = await session.get(Sale, sale.id, populate_existing=True)
            assert again is not None
            assert again.completed_at is not None
            assert again.completed_at.tzinfo is not None
            assert isinstance(again.total, Decimal)
            lines = (
                await session.scalars(select(SaleLine).where(SaleLine.sale_id == sale.id))
            ).all()
            assert lines
            assert sum(line.total for line in lines) == sale.total
            found = await session.scalar(
                select(func.count())
                .select_from(Sale)
                .where(Sale.completed_at == sale.completed_at, Sale.store_id == sale.store_id)
            )
            assert found == 1, "a completion time read back does not find its sale"
        discount = (await session.scalars(select(SaleDiscount).limit(1))).one()
        discounted = await session.get(Sale, discount.sale_id)
        assert discounted is not None
        assert discounted.discount_total == discount.amount
        print(
            f"  read back: sale {discounted.id} at {discounted.completed_at},"
            f" total {discounted.total},"
            f" discount {discount.percent}% = {discount.amount}"
        )


async def check_totals(db: Database) -> None:
    """The rebuilt aggregates add up to direct sums over the lines and sales."""
    async with db.read() as session:
        dialect = session.get_bind().dialect.name

        def cents(column: str) -> str:
            if dialect == "sqlite":
                return f"CAST(round({column} * 100) AS INTEGER)"
            return f"({column} * 100)::bigint"

        direct = (
            await session.execute(
                text(
                    f"SELECT SUM(l.quantity), SUM({cents('l.total')}), SUM({cents('l.discount')}),"  # noqa: S608
                    f" SUM(l.returned_quantity), SUM({cents('l.returned_value')})"
                    " FROM sale_lines l JOIN sales s ON s.id = l.sale_id"
                    " WHERE s.status = 'COMPLETED'"
                )
            )
        ).one()
        daily = (
            await session.execute(
                select(
                    func.sum(SalesDaily.units),
                    func.sum(SalesDaily.revenue_cents),
                    func.sum(SalesDaily.discount_cents),
                    func.sum(SalesDaily.returned_units),
                    func.sum(SalesDaily.returned_cents),
                )
            )
        ).one()
        assert tuple(map(int, direct)) == tuple(map(int, daily)), (direct, daily)
        sales = (
            await session.execute(
                text(
                    f"SELECT COUNT(*), SUM({cents('total')}) FROM sales"  # noqa: S608
                    " WHERE status = 'COMPLETED'"
                )
            )
        ).one()
        mix = (
            await session.execute(
                select(func.sum(SalesDailyMix.sales), func.sum(SalesDailyMix.revenue_cents))
            )
        ).one()
        assert tuple(map(int, sales)) == tuple(map(int, mix)), (sales, mix)
        assert int(daily[1]) == int(mix[1]), "lines and sales disagree"
        discounts = (
            await session.execute(
                text(
                    f"SELECT COUNT(*), SUM({cents('d.amount')}) FROM sale_discounts d"  # noqa: S608
                    " JOIN sales s ON s.id = d.sale_id WHERE s.status = 'COMPLETED'"
                )
            )
        ).one()
        by_discount = (
            await session.execute(
                select(
                    func.sum(SalesDailyDiscount.sales), func.sum(SalesDailyDiscount.discount_cents)
                )
            )
        ).one()
        assert tuple(map(int, discounts)) == tuple(map(int, by_discount))
        print(
            f"  totals agree: {int(direct[0]):,} units, {int(direct[1]) / 100:,.2f} revenue,"
            f" {int(sales[0]):,} completed sales, {int(discounts[0]):,} discounted"
        )


# -- timing ----------------------------------------------------------------------------


def compiled(db: Database, query: Any) -> str:
    return str(query.compile(dialect=db.engine.dialect, compile_kwargs={"literal_binds": True}))


async def counts(db: Database) -> dict[str, int]:
    tables = (*FILLED, "sales_daily", "sales_daily_mix", "sales_daily_discounts", "customer_daily")
    async with db.read() as session:
        return {
            t: int((await session.execute(text(f"SELECT COUNT(*) FROM {t}"))).scalar() or 0)  # noqa: S608
            for t in tables
        }


async def size(database_url: str) -> int:
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        path = Path(url.database or "")
        return sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))
    conn = await raw_connect(database_url)
    try:
        return int(await conn.fetchval("SELECT pg_database_size(current_database())"))
    finally:
        await conn.close()


async def main(args: argparse.Namespace) -> None:
    tmp = temp_dir()
    try:
        async with scratch_database(tmp, "rebuild") as database_url:
            await run(database_url, args)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


async def run(database_url: str, args: argparse.Namespace) -> None:
    backend = make_url(database_url).get_backend_name()
    db = Database(database_url)
    sales = max(1, round(args.lines / 3))
    start = (datetime.now(UTC).date() - timedelta(days=DAYS + 1)).isoformat()
    print(f"{backend}: filling ~{args.lines:,} lines ({sales:,} sales) ...", flush=True)
    started = time.perf_counter()
    chain = await write_chain(db, random.Random(11))
    if backend == "sqlite":
        await asyncio.to_thread(
            fill_sqlite, make_url(database_url).database or "", chain, sales, start
        )
    else:
        await fill_postgres(database_url, chain, sales, start)
    fill_time = time.perf_counter() - started
    rows = await counts(db)
    print(f"  filled in {fill_time:.0f} s: " + ", ".join(f"{t} {n:,}" for t, n in rows.items()))
    print(f"  database size {await size(database_url) / 2**30:.2f} GiB")
    await check_rows(db)

    async with db.read() as session:
        all_sql = [compiled(db, q) for q in SalesAggregateRepository(session).selects().values()]
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

    async def rebuild() -> float:
        began = time.perf_counter()
        async with db.write() as session:
            await SalesAggregateRepository(session).recompute()
        return time.perf_counter() - began

    runs: dict[str, list[float]] = {"plain": [], "all_bare": [], "rebuild": []}
    for n in range(args.repeat):
        runs["plain"].append(await bare(database_url, [plain_sql]))
        runs["all_bare"].append(await bare(database_url, all_sql))
        runs["rebuild"].append(await rebuild())
        print(f"  run {n + 1}: " + ", ".join(f"{k} {v[-1]:.2f} s" for k, v in runs.items()))
    await check_totals(db)
    best = {k: min(v) for k, v in runs.items()}
    rows = await counts(db)
    print(f"\nfull rebuild over {rows['sale_lines']:,} sale lines, best of {args.repeat}")
    print(
        f"  ({rows['sales_daily']:,} product rows, {rows['sales_daily_mix']:,} mix,"
        f" {rows['sales_daily_discounts']:,} discount, {rows['customer_daily']:,} customer)"
    )
    print(f"  plain GROUP BY day, store, product (bare)    {best['plain']:8.2f} s")
    print(f"  the four tables' GROUP BYs, read whole (bare) {best['all_bare']:8.2f} s")
    print(
        f"  recompute(): all four tables rebuilt         {best['rebuild']:8.2f} s"
        f"   {best['rebuild'] / best['plain']:.2f}x plain (target 1.2x),"
        f" {best['rebuild'] / best['all_bare']:.2f}x their GROUP BYs"
    )
    print(f"  load average {os.getloadavg()}")
    await db.dispose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--lines", type=int, default=1_000_000, help="about; ~3 a sale")
    parser.add_argument("--repeat", type=int, default=2)
    asyncio.run(main(parser.parse_args()))
