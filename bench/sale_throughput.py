"""Sales through the till API: saleCreate (3 lines, a customer) + saleComplete per sale.

Usage: ``.venv/bin/python bench/sale_throughput.py [--sales N --concurrency N --stores N
--serve --tiers]``.
With ``POSCRM_DATABASE_URL=postgresql+asyncpg://…`` it runs on PostgreSQL (a database of
its own, created and dropped); otherwise on a SQLite file in a temporary folder.

Server side: two GraphQL requests per sale with a till's device token, through the whole
ASGI app in-process (auth, GraphQL, pricing, points, stock, stats, idempotency, SQL),
first one client at a time, then ``--concurrency`` clients at once. Baselines in the same
run: the same number of round trips of an authenticated trivial query (``{ me { id } }``:
what the HTTP and GraphQL stack costs before any sale logic), and a sale with 3 lines
inserted on the bare driver (sqlite3 / asyncpg), one transaction per sale: the floor of
what the database must do.

Every sale numbers its customer in the home store's change feed. ``--stores 0`` (the
default): one branch sells; its customers are homed at the head office (as customers
created without a home store are), so every sale takes the head office's feed counter.
``--stores N``: N branches, each with its own till and stock rows and its customers homed
there; client k sells at branch k mod N, so clients of different branches share no
counter or stock row (issue 12).

``--serve`` then runs the same clients over real HTTP against a `poscrm serve` process
(uvicorn, one process) on the same database, each client on one keep-alive connection
as a till holds one.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sqlite3
import statistics
import time
import uuid
from collections import Counter
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import uvloop
from _common import (
    percentile,
    raw_connect,
    running_app,
    scratch_database,
    served,
    temp_dir,
)
from sqlalchemy import event
from sqlalchemy.engine import make_url

from app.domain.permissions import Permission

CREATE = """mutation($input: SaleCreateInput!) { saleCreate(input: $input) {
  sale { id total } errors { code message } } }"""
COMPLETE = """mutation($s: ID!, $k: String) {
  saleComplete(saleId: $s, input: {payment: CARD, idempotencyKey: $k}) {
  sale { id status total pointsEarned } errors { code message } } }"""
TRIVIAL = "{ me { id } }"
SKUS = ("BENCH-TEA", "BENCH-MUG", "BENCH-BAG")
CUSTOMERS = 200


async def add_tiers(runtime: Any) -> None:
    """Silver and Gold by spend over a year, low enough that the bench's buyers climb
    them within the run: sales are priced with a tier's discount and multiplier and some
    completions promote (an evaluation and an audit entry)."""
    from app.domain.tiers import TierBasis
    from app.services.loyalty_tiers import LoyaltyTierService, TierDraft

    tiers = LoyaltyTierService(runtime.tx, None)
    for name, rank, threshold, percent in (("Silver", 1, "40", "3"), ("Gold", 2, "120", "6")):
        draft = TierDraft(
            name, rank, TierBasis.SPEND, Decimal(threshold), 365, Decimal("1.5"), Decimal(percent)
        )
        made = await tiers.create(draft)
        if made.value is None:
            raise RuntimeError(made.errors)


async def seed(app: Any, stores: int, tiers: bool) -> tuple[list[str], list[list[str]]]:
    """Products, customers with cards, branches and their tills: per store (one without
    ``stores``), the till's device token and the customers homed there; with ``tiers``,
    two loyalty tiers the buyers climb."""
    from tests.factories import Factory

    factory = Factory(app.state.runtime)
    if tiers:
        await add_tiers(app.state.runtime)
    for sku, price in zip(SKUS, ("3.99", "7.50", "0.25"), strict=True):
        await factory.product(sku, price)
    branches = [await factory.store(f"BENCH{i}") for i in range(max(stores, 1))]
    customers: list[list[str]] = [[] for _ in branches]
    for n in range(CUSTOMERS):
        home = n % len(branches)
        homed = {"home_store_id": branches[home].id} if stores else {}
        customer = await factory.customer(f"Bench Buyer {n}", f"+1212555{n:04d}", **homed)
        if n % 2:
            await factory.loyalty_card(customer.id, f"BENCH-{n:06d}")
        customers[home].append(str(customer.id))
    tokens = [
        await factory.till(b.id, Permission.SALE_CREATE, Permission.CUSTOMER_VIEW) for b in branches
    ]
    return tokens, customers


async def post(client: httpx.AsyncClient, query: str, variables: dict[str, Any]) -> Any:
    response = await client.post("/graphql", json={"query": query, "variables": variables})
    body = response.json()
    if "errors" in body:
        raise RuntimeError(f"GraphQL errors: {body['errors']}")
    return body["data"]


async def one_sale(client: httpx.AsyncClient, customer_id: str, rng: random.Random) -> float:
    lines = [{"sku": sku, "quantity": rng.randint(1, 3)} for sku in SKUS]
    started = time.perf_counter()
    created = (await post(client, CREATE, {"input": {"customerId": customer_id, "lines": lines}}))[
        "saleCreate"
    ]
    if created["errors"]:
        raise RuntimeError(created["errors"])
    sale_id = created["sale"]["id"]
    done = (await post(client, COMPLETE, {"s": sale_id, "k": f"done-{sale_id}"}))["saleComplete"]
    if done["errors"] or done["sale"]["status"] != "COMPLETED":
        raise RuntimeError(done)
    return time.perf_counter() - started


async def two_trivial(client: httpx.AsyncClient) -> float:
    started = time.perf_counter()
    for _ in range(2):
        if (await post(client, TRIVIAL, {}))["me"] is not None:
            raise RuntimeError("a till's token is no staff user")
    return time.perf_counter() - started


async def clients(
    app: Any, tokens: list[str], work: Any, total: int, concurrency: int
) -> tuple[list[float], float]:
    """``total`` calls of ``work(client, n, k)`` over ``concurrency`` clients (client k with
    ``tokens[k % len(tokens)]``): times, wall time. ``app`` is the ASGI app in this process,
    or the port of a `poscrm serve`: then each client holds one keep-alive connection."""
    if isinstance(app, int):
        where: dict[str, Any] = {"base_url": f"http://127.0.0.1:{app}", "timeout": 60}
    else:
        where = {"transport": httpx.ASGITransport(app=app), "base_url": "http://bench"}
    queue = list(range(total))
    timings: list[float] = []

    async def worker(k: int) -> None:
        headers = {"Authorization": f"Bearer {tokens[k % len(tokens)]}"}
        async with httpx.AsyncClient(headers=headers, **where) as client:
            while queue:
                timings.append(await work(client, queue.pop(), k))

    started = time.perf_counter()
    await asyncio.gather(*(worker(k) for k in range(concurrency)))
    return timings, time.perf_counter() - started


def _raw_sale_rows(
    ids: dict[str, Any], new_id: Any, stamp: Any, money: Any
) -> tuple[tuple[Any, ...], list[tuple[Any, ...]]]:
    sale_id = new_id()
    lines = [
        (new_id(), sale_id, n + 1, ids["products"][n], SKUS[n], SKUS[n], 2, money("3.99"),
         money("7.98"), money("0.00"), money("7.98"))
        for n in range(3)
    ]  # fmt: skip
    sale = (sale_id, ids["store"], ids["customer"], "COMPLETED", money("23.94"), money("0.00"),
            money("23.94"), "CARD", money("23.94"), stamp, stamp, stamp)  # fmt: skip
    return sale, lines


SALE_COLUMNS = (
    "id, store_id, customer_id, status, subtotal, discount_total, total, payment, paid,"
    " created_at, updated_at, completed_at"
)
LINE_COLUMNS = (
    "id, sale_id, position, product_id, sku, name, quantity, unit_price, amount, discount, total"
)
INSERT_SALE = f"INSERT INTO sales ({SALE_COLUMNS}) VALUES ({{}})"  # noqa: S608
INSERT_LINE = f"INSERT INTO sale_lines ({LINE_COLUMNS}) VALUES ({{}})"  # noqa: S608


def _marks(n: int, dollar: bool) -> str:
    return ", ".join(f"${i}" for i in range(1, n + 1)) if dollar else ", ".join("?" * n)


async def raw_inserts(database_url: str, sales: int) -> list[float]:
    """One transaction per sale: the sale row and its 3 lines, on the bare driver."""
    url = make_url(database_url)
    timings: list[float] = []
    if url.get_backend_name() == "sqlite":
        conn = sqlite3.connect(url.database or "", isolation_level=None)
        conn.execute("PRAGMA synchronous=NORMAL")  # as the app writes (WAL, set by it)
        store, customer = conn.execute("SELECT store_id, customer_id FROM sales LIMIT 1").fetchone()
        products = [
            conn.execute("SELECT id FROM products WHERE sku = ?", (sku,)).fetchone()[0]
            for sku in SKUS
        ]
        ids = {"store": store, "customer": customer, "products": products}
        for _ in range(sales):
            stamp = datetime.now(UTC).replace(tzinfo=None).isoformat(" ")
            sale, lines = _raw_sale_rows(ids, lambda: uuid.uuid4().hex, stamp, str)
            started = time.perf_counter()
            conn.execute("BEGIN")
            conn.execute(INSERT_SALE.format(_marks(12, False)), sale)
            conn.executemany(INSERT_LINE.format(_marks(11, False)), lines)
            conn.execute("COMMIT")
            timings.append(time.perf_counter() - started)
        conn.close()
        return timings
    conn = await raw_connect(database_url)
    try:
        row = await conn.fetchrow("SELECT store_id, customer_id FROM sales LIMIT 1")
        products = [await conn.fetchval("SELECT id FROM products WHERE sku = $1", s) for s in SKUS]
        ids = {"store": row["store_id"], "customer": row["customer_id"], "products": products}
        sale_sql = INSERT_SALE.format(_marks(12, True))
        line_sql = INSERT_LINE.format(_marks(11, True))
        for _ in range(sales):
            sale, lines = _raw_sale_rows(ids, uuid.uuid4, datetime.now(UTC), Decimal)
            started = time.perf_counter()
            async with conn.transaction():
                await conn.execute(sale_sql, *sale)
                await conn.executemany(line_sql, lines)
            timings.append(time.perf_counter() - started)
    finally:
        await conn.close()
    return timings


def count_statements(app: Any) -> Any:
    db = app.state.runtime.db
    engines = {id(e): e for e in (db.engine, db.write_engine)}.values()
    seen: list[str] = []

    def before(_c: Any, _cur: Any, statement: str, *_: Any) -> None:
        if not statement.startswith(("BEGIN", "PRAGMA", "COMMIT", "ROLLBACK", "SAVEPOINT")):
            seen.append(statement)

    for engine in engines:
        event.listen(engine.sync_engine, "before_cursor_execute", before)

    def stop() -> int:
        for engine in engines:
            event.remove(engine.sync_engine, "before_cursor_execute", before)
        return len(seen)

    return stop


WAITING = """SELECT left(regexp_replace(a.query, '\\s+', ' ', 'g'), 60) AS statement
FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
WHERE NOT l.granted AND a.datname = current_database()"""


async def lock_waits(database_url: str, done: asyncio.Event) -> tuple[Counter[str], int]:
    """Sample, every 10 ms until ``done``, which statements wait for a lock (PostgreSQL):
    per statement, in how many samples a backend waited on it; the number of samples."""
    waits: Counter[str] = Counter()
    if make_url(database_url).get_backend_name() != "postgresql":
        return waits, 0
    conn = await raw_connect(database_url)
    samples = 0
    try:
        while not done.is_set():
            waits.update(row["statement"] for row in await conn.fetch(WAITING))
            samples += 1
            await asyncio.sleep(0.01)
    finally:
        await conn.close()
    return waits, samples


def line(label: str, timings: list[float], wall: float) -> None:
    median = statistics.median(timings) * 1000
    print(
        f"{label:34s} {len(timings) / wall:8.1f}/s   median {median:7.2f} ms"
        f"   p99 {percentile(timings, 0.99) * 1000:7.2f} ms"
    )


def ratio(label: str, server: list[float], baseline: list[float]) -> None:
    print(
        f"ratio {label:28s} median {statistics.median(server) / statistics.median(baseline):6.1f}x"
        f"   p99 {percentile(server, 0.99) / percentile(baseline, 0.99):6.1f}x"
    )


Runs = dict[str, tuple[list[float], float]]


async def measure(
    app: Any,
    database_url: str,
    tokens: list[str],
    customers: list[list[str]],
    sales: int,
    concurrency: int,
) -> tuple[Runs, Counter[str], int]:
    """Sales then trivial requests, one client then ``concurrency``, after a warm-up; and
    which statements waited for locks while ``concurrency`` clients sold."""
    rng = random.Random(5)

    async def sale(client: httpx.AsyncClient, n: int, k: int) -> float:
        mine = customers[k % len(customers)]
        return await one_sale(client, mine[n % len(mine)], rng)

    async def trivial(client: httpx.AsyncClient, _: int, _k: int) -> float:
        return await two_trivial(client)

    await clients(app, tokens, sale, 30, 1)  # warm-up: caches, connections
    await clients(app, tokens, trivial, 30, 1)
    runs = {"sale, 1 client": await clients(app, tokens, sale, sales, 1)}
    done = asyncio.Event()
    sampler = asyncio.create_task(lock_waits(database_url, done))
    runs[f"sale, {concurrency} clients"] = await clients(app, tokens, sale, sales, concurrency)
    done.set()
    waits, samples = await sampler
    runs["2x { me { id } }, 1 client"] = await clients(app, tokens, trivial, sales, 1)
    runs[f"2x {{ me {{ id }} }}, {concurrency} clients"] = await clients(
        app, tokens, trivial, sales, concurrency
    )
    return runs, waits, samples


def report(
    title: str,
    measured: tuple[Runs, Counter[str], int],
    raw: list[float],
    concurrency: int,
) -> None:
    runs, waits, samples = measured
    print(title)
    for label, (timings, wall) in runs.items():
        line(label, timings, wall)
    (one, one_wall), (_, many_wall), (trivial_one, _), _ = runs.values()
    ratio("sale / 2 trivial requests", one, trivial_one)
    ratio("sale / raw insert", one, raw)
    print(f"throughput, {concurrency} clients over 1 client: {one_wall / many_wall:.2f}x")
    if samples:
        print(f"backends waiting for a lock, {concurrency} clients (mean over {samples} samples):")
        print(f"  {sum(waits.values()) / samples:5.2f}  in all")
        for statement, n in waits.most_common(5):
            print(f"  {n / samples:5.2f}  {statement}")


async def over_http(
    database_url: str,
    tmp: Path,
    tokens: list[str],
    customers: list[list[str]],
    sales: int,
    concurrency: int,
) -> tuple[Runs, Counter[str], int]:
    """The same requests over real HTTP to a `poscrm serve` (uvicorn, one process)."""
    async with served(database_url, tmp / "serve") as port:
        return await measure(port, database_url, tokens, customers, sales, concurrency)


async def run(sales: int, concurrency: int, stores: int, serve: bool, tiers: bool) -> None:
    tmp = temp_dir()
    async with scratch_database(tmp) as database_url:
        async with running_app(database_url, tmp) as app:
            tokens, customers = await seed(app, stores, tiers)
            in_process = await measure(app, database_url, tokens, customers, sales, concurrency)
            rng = random.Random(7)

            async def sale(client: httpx.AsyncClient, n: int, k: int) -> float:
                mine = customers[k % len(customers)]
                return await one_sale(client, mine[n % len(mine)], rng)

            stop = count_statements(app)
            await clients(app, tokens, sale, 20, 1)
            statements = stop() / 20
        served = (
            await over_http(database_url, tmp, tokens, customers, sales, concurrency)
            if serve
            else None
        )
        raw = await raw_inserts(database_url, sales)
    backend = make_url(database_url).get_backend_name()
    print(
        f"sales: {sales}  concurrency: {concurrency}  stores: {stores}  tiers: {tiers}  "
        f"backend: {backend}"
    )
    print(f"statements per sale (create + complete): {statements:.1f}")
    line("raw driver insert, sale + 3 lines", raw, sum(raw))
    report("-- in-process (ASGI)", in_process, raw, concurrency)
    if served is not None:
        report("-- over HTTP, `poscrm serve`", served, raw, concurrency)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sales", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--stores", type=int, default=0)
    parser.add_argument(
        "--serve", action="store_true", help="also over real HTTP to a `poscrm serve` process"
    )
    parser.add_argument(
        "--tiers", action="store_true", help="with two loyalty tiers the buyers climb"
    )
    args = parser.parse_args()
    # uvloop, as `poscrm serve` runs (DESIGN.md §6).
    uvloop.run(run(args.sales, args.concurrency, args.stores, args.serve, args.tiers))


if __name__ == "__main__":
    main()
