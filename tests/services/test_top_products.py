"""Top products kept incrementally (issue 12): after sales, voids, returns and merges, the
running units per customer and product are what the whole history says, and the top
products are what the screen computed from the history before."""

from __future__ import annotations

import importlib
import uuid
from typing import Any

from sqlalchemy import text

from app.domain.sales import PaymentMethod
from app.runtime import Runtime
from app.services.customer_merge import CustomerMergeService
from app.services.loyalty import LoyaltyService
from app.services.sale_reversals import ReturnLineDraft, SaleReturnCommand, SaleReversalService
from app.services.sales import TOP_PRODUCTS, LineDraft, SaleCompletion, SaleCreate

# The screen's old computation: every completed sale line of the customer, summed.
FROM_HISTORY = (
    "SELECT s.customer_id, l.product_id, SUM(l.quantity - l.returned_quantity)"
    " FROM sale_lines l JOIN sales s ON s.id = l.sale_id"
    " WHERE s.status = 'COMPLETED' AND s.customer_id IS NOT NULL"
    " GROUP BY s.customer_id, l.product_id"
)
KEPT = "SELECT customer_id, product_id, units FROM customer_product_units"

Units = dict[tuple[uuid.UUID, uuid.UUID], int]


def _units(rows: list[Any]) -> Units:
    # SQLite's raw rows hold UUIDs as hex; a product no longer kept counts as none.
    return {(uuid.UUID(str(c)), uuid.UUID(str(p))): int(n) for c, p, n in rows if n}


class World:
    def __init__(self, runtime: Runtime, factory: Any, raw_sql: Any) -> None:
        self.runtime = runtime
        self.factory = factory
        self.raw_sql = raw_sql
        self.sales = factory.sales()
        self.reversals = SaleReversalService(runtime.tx, None, LoyaltyService(runtime.tx, None))
        self.skus: dict[uuid.UUID, str] = {}

    async def sell(self, customer_id: uuid.UUID | None, lines: list[tuple[str, int]]) -> Any:
        return await self.factory.completed_sale(customer_id, lines)

    async def check(self, customers: list[uuid.UUID]) -> Units:
        history = _units(await self.raw_sql(FROM_HISTORY))
        assert _units(await self.raw_sql(KEPT)) == history
        top = await self.sales.top_products_for(customers)
        for customer_id in customers:
            mine = [(p, n) for (c, p), n in history.items() if c == customer_id and n > 0]
            mine.sort(key=lambda pn: (-pn[1], self.skus[pn[0]]))
            assert [(r.product_id, r.sku, r.quantity) for r in top.get(customer_id, [])] == [
                (p, self.skus[p], n) for p, n in mine[:TOP_PRODUCTS]
            ], customer_id
        return history


async def test_top_products_follow_sales_voids_returns_and_merges(
    runtime: Runtime, factory: Any, raw_sql: Any
) -> None:
    world = World(runtime, factory, raw_sql)
    skus = ["TP-A", "TP-B", "TP-C", "TP-D", "TP-E", "TP-F", "TP-G"]
    for n, sku in enumerate(skus):
        product = await factory.product(sku, f"{n + 1}.00")
        world.skus[product.id] = sku
    ids = {sku: product_id for product_id, sku in world.skus.items()}
    ann, bob, cid = [await factory.customer() for _ in range(3)]
    people = [ann.id, bob.id, cid.id]

    # Sales: one product twice on a sale, a walk-in, more than five products, an open sale.
    await world.sell(ann.id, [("TP-A", 2), ("TP-B", 1), ("TP-A", 1)])
    kept_sale = await world.sell(ann.id, [("TP-C", 4), ("TP-D", 1), ("TP-E", 1)])
    voided = await world.sell(ann.id, [("TP-F", 9), ("TP-A", 1)])
    await world.sell(ann.id, [("TP-G", 1), ("TP-B", 2)])
    returned = await world.sell(bob.id, [("TP-A", 3), ("TP-F", 2), ("TP-G", 5)])
    await world.sell(bob.id, [("TP-B", 1)])
    await world.sell(None, [("TP-A", 7)])
    opened = await world.sales.create(
        SaleCreate(lines=(LineDraft("TP-D", 50),), customer_id=cid.id)
    )
    assert opened.ok
    history = await world.check(people)
    assert history[(ann.id, ids["TP-A"])] == 4
    assert history[(ann.id, ids["TP-F"])] == 9

    # A void takes the whole sale back.
    assert (await world.reversals.void(voided.id, "wrong customer")).ok
    history = await world.check(people)
    assert (ann.id, ids["TP-F"]) not in history
    assert history[(ann.id, ids["TP-A"])] == 3

    # Returns take back what comes back: part of a line, then a whole line.
    by_sku = {line.sku: line for line in (await world.sales.lines_for([returned.id]))[returned.id]}
    for sku, quantity in (("TP-A", 1), ("TP-G", 5)):
        done = await world.reversals.return_goods(
            returned.id,
            SaleReturnCommand(
                lines=(ReturnLineDraft(by_sku[sku].id, quantity),),
                refund_payment=PaymentMethod.CASH,
            ),
        )
        assert done.ok, done.errors
        await world.check(people)

    # A merge adds the merged customer's units to the survivor's, where both bought.
    assert (await CustomerMergeService(runtime.tx, None).merge(bob.id, ann.id)).ok
    assert (await CustomerMergeService(runtime.tx, None).merge(cid.id, ann.id)).ok
    history = await world.check(people)
    assert {c for c, _ in history} == {ann.id}
    assert history[(ann.id, ids["TP-A"])] == 3 + 2  # Ann's 3, Bob's 3 less 1 returned

    # The moved sales are the survivor's now: their returns and voids count there.
    assert (await world.reversals.void(kept_sale.id, None)).ok
    await world.check(people)
    assert opened.value is not None
    assert (await world.sales.complete(opened.value.id, SaleCompletion(PaymentMethod.CASH))).ok
    await world.check(people)


async def test_the_migration_counts_the_history_there_was(
    runtime: Runtime, factory: Any, raw_sql: Any
) -> None:
    world = World(runtime, factory, raw_sql)
    for sku in ("MG-A", "MG-B"):
        product = await factory.product(sku, "2.00")
        world.skus[product.id] = sku
    ann, bob = await factory.customer(), await factory.customer()
    await world.sell(ann.id, [("MG-A", 2), ("MG-B", 1)])
    await world.sell(bob.id, [("MG-B", 3)])
    voided = await world.sell(bob.id, [("MG-A", 4)])
    assert (await world.reversals.void(voided.id, None)).ok
    expected = await world.check([ann.id, bob.id])

    migration = importlib.import_module("app.db.migrations.versions.0023_customer_product_units")
    async with runtime.db.write() as session:
        await session.execute(text("DELETE FROM customer_product_units"))
        await session.execute(text(migration.BACKFILL))
    assert _units(await raw_sql(KEPT)) == expected
    await world.check([ann.id, bob.id])
