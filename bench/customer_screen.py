"""The till's customer screen for a regular with 500 completed sales: server against raw SQL.

Usage: ``.venv/bin/python bench/customer_screen.py [--sales N --requests N]``.
With ``POSCRM_DATABASE_URL=postgresql+asyncpg://…`` it runs on PostgreSQL (a database of
its own, created and dropped); otherwise on a SQLite file in a temporary folder.

Server side: one GraphQL request for the customer with groups, loyalty card and points,
the sales summary (visits, spend, average, first/last purchase, top products) and the 20
newest sales with their lines and applied discounts, through the whole ASGI app
in-process. Baselines in the same run: ``{ __typename }`` with the same token through the
same app (the floor of any request); on the bare driver (sqlite3 / asyncpg): the very
statements that request ran, replayed; and the same data read by hand-written SQL
(customer, groups, card, points, stats, top products, 20 newest sales, their lines and
discounts). The sales are made through SaleService, as a till makes them.
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import time
from typing import Any

import uvloop
from _common import (
    make_token,
    print_timings,
    raw_connect,
    replay,
    running_app,
    scratch_database,
    temp_dir,
    time_graphql,
)
from sqlalchemy.engine import make_url

from app.domain.permissions import Permission

SCREEN = """query($id: ID!) { customer(id: $id) {
  id name phone status groups { name } loyaltyCard { cardNumber discountPercent } loyaltyPoints
  salesHistory { visits totalSpent averageBasket firstPurchaseAt lastPurchaseAt
    topProducts { sku name quantity }
    sales(first: 20) { totalCount edges { node { id status total createdAt
      lines { sku name quantity unitPrice total } appliedDiscounts { source code percent amount }
    } } } } } }"""
SKUS = ("SCR-TEA", "SCR-MUG", "SCR-BAG", "SCR-JAM", "SCR-CUP")

# What the screen shows, by hand on the bare driver: one statement per kind of data.
RAW_READS = [
    "SELECT id, name, phone, status FROM customers WHERE id = {0}",
    "SELECT g.name, g.discount_percent FROM customer_groups g"
    " JOIN customer_group_members m ON m.group_id = g.id WHERE m.customer_id = {0}",
    "SELECT card_number, discount_percent FROM loyalty_cards"
    " WHERE customer_id = {0} AND status = 'ACTIVE'",
    "SELECT points FROM loyalty_points_balances WHERE customer_id = {0}",
    "SELECT visits, spent_cents, first_purchase_at, last_purchase_at"
    " FROM customer_sales_stats WHERE customer_id = {0}",
    # The running units per product (issue 12), as the server reads them too.
    "SELECT p.sku, p.name, u.units FROM customer_product_units u"
    " JOIN products p ON p.id = u.product_id"
    " WHERE u.customer_id = {0} AND u.units > 0 ORDER BY u.units DESC, p.sku LIMIT 5",
    "SELECT COUNT(*) FROM sales WHERE customer_id = {0}",
    "SELECT id, status, total, created_at FROM sales WHERE customer_id = {0}"
    " ORDER BY created_at DESC, id DESC LIMIT 21",
]
RAW_LINES = (
    "SELECT sale_id, sku, name, quantity, unit_price, total FROM sale_lines"
    " WHERE sale_id IN ({0}) ORDER BY sale_id, position"
)
RAW_DISCOUNTS = (
    "SELECT sale_id, source, code, percent, amount FROM sale_discounts"
    " WHERE sale_id IN ({0}) AND applied"
)


async def seed(app: Any, sales: int) -> str:
    """A regular in a discount group with a loyalty card, and their completed sales."""
    from tests.factories import Factory

    factory = Factory(app.state.runtime)
    for n, sku in enumerate(SKUS):
        await factory.product(sku, f"{2 + n}.49")
    customer = await factory.customer("Screen Regular", "+12125550199")
    group = await factory.group("Regulars", "5")
    await factory.add_to_group(group.id, customer.id)
    await factory.loyalty_card(customer.id, "SCREEN-0001", "3")
    for n in range(sales):
        lines = [(SKUS[(n + k) % len(SKUS)], 1 + (n + k) % 3) for k in range(3)]
        await factory.completed_sale(customer.id, lines)
    return str(customer.id)


async def raw_screen(database_url: str, customer_id: str, requests: int) -> list[float]:
    """The screen's data by hand-written SQL, timed per screen."""
    url = make_url(database_url)
    timings: list[float] = []
    if url.get_backend_name() == "sqlite":
        conn = sqlite3.connect(url.database or "")
        key = customer_id.replace("-", "")  # SQLite keeps UUIDs as 32 hex digits
        for _ in range(requests):
            started = time.perf_counter()
            for sql in RAW_READS:
                rows = conn.execute(sql.format("?"), (key,)).fetchall()
            ids = [r[0] for r in rows[:20]]
            marks = ",".join("?" * len(ids))
            conn.execute(RAW_LINES.format(marks), ids).fetchall()
            conn.execute(RAW_DISCOUNTS.format(marks), ids).fetchall()
            timings.append(time.perf_counter() - started)
        conn.close()
        return timings
    import uuid

    conn = await raw_connect(database_url)
    try:
        key_id = uuid.UUID(customer_id)
        for _ in range(requests):
            started = time.perf_counter()
            for sql in RAW_READS:
                rows = await conn.fetch(sql.format("$1"), key_id)
            ids = [r[0] for r in rows[:20]]
            await conn.fetch(RAW_LINES.format("SELECT unnest($1::uuid[])"), ids)
            await conn.fetch(RAW_DISCOUNTS.format("SELECT unnest($1::uuid[])"), ids)
            timings.append(time.perf_counter() - started)
    finally:
        await conn.close()
    return timings


async def run(sales: int, requests: int) -> None:
    tmp = temp_dir()
    async with scratch_database(tmp) as database_url, running_app(database_url, tmp) as app:
        started = time.perf_counter()
        customer_id = await seed(app, sales)
        seeding = time.perf_counter() - started
        token = await make_token(app, Permission.CUSTOMER_VIEW)
        # The floor of any request with a token, in the same run: the target
        # (8 ms) is ~10x the 0.81 ms it measured for {__typename} on a quiet machine.
        cpu = time.process_time()
        floor, _, _ = await time_graphql(app, token, "{ __typename }", [{}] * requests)
        floor_cpu = (time.process_time() - cpu) / (requests + 50)  # with the warm-up
        cpu = time.process_time()
        server, per_request, answers = await time_graphql(
            app, token, SCREEN, [{"id": customer_id}] * requests
        )
        server_cpu = (time.process_time() - cpu) / (requests + 50)
        same_sql = await replay(database_url, per_request)
        by_hand = await raw_screen(database_url, customer_id, requests)
    history = answers[-1]["customer"]["salesHistory"]
    if history["visits"] != sales or len(history["sales"]["edges"]) != min(sales, 20):
        raise RuntimeError(f"unexpected screen: {history}")
    statements = statistics.mean(len(s) for s in per_request)
    backend = make_url(database_url).get_backend_name()
    print(f"sales: {sales} (seeded in {seeding:.1f} s)  requests: {requests}  backend: {backend}")
    print(
        f"statements per screen: {statements:.1f} (hand-written: {len(RAW_READS) + 2})"
        f"  visits: {history['visits']}  spent: {history['totalSpent']}"
    )
    print_timings([("server (GraphQL over ASGI)", server), ("{ __typename }, same token", floor)])
    # CPU time of the whole process (its driver threads too): steadier than the wall
    # clock when other processes share the cores.
    print(
        f"CPU per request: screen {server_cpu * 1000:.2f} ms, {{ __typename }}"
        f" {floor_cpu * 1000:.2f} ms, ratio {server_cpu / floor_cpu:.1f}x"
    )
    print_timings([("server (GraphQL over ASGI)", server), ("raw driver, same SQL", same_sql)])
    print_timings([("server (GraphQL over ASGI)", server), ("raw driver, hand-written", by_hand)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sales", type=int, default=500)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    # uvloop, as `poscrm serve` runs (DESIGN.md §6).
    uvloop.run(run(args.sales, args.requests))


if __name__ == "__main__":
    main()
