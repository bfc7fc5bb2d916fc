"""Daily aggregates (issue 11 §2): nightly for the days that changed, rebuildable in full."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta

from app.services.job_registry import SCHEDULED_JOBS
from app.services.sale_reversals import ReturnLineDraft, SaleReturnCommand
from app.services.sales_aggregates import AGGREGATES_JOB, rebuild, run_nightly
from app.services.scheduled import run_due
from app.services.unit_of_work import utcnow
from tests.analytics.helpers import at, move_sale, reversals

DAY = timedelta(days=1)
PRODUCT_ROWS = """SELECT p.sku, d.units, d.revenue_cents, d.discount_cents, d.sales,
  d.returned_units, d.returned_cents FROM sales_daily d JOIN products p ON p.id = d.product_id
  WHERE d.day = :day ORDER BY p.sku"""
MIX_ROWS = """SELECT payment, segment, sales, units, revenue_cents, points_redeemed, returned_cents
  FROM sales_daily_mix WHERE day = :day ORDER BY payment, segment"""


async def _shop(factory):  # type: ignore[no-untyped-def]
    await factory.product("TEA", price="2.50", category="Tea")
    await factory.product("CUP", price="10.00", category="Ware")
    return await factory.customer()


async def test_the_nightly_run_aggregates_yesterday_by_product_store_and_sale(
    runtime, factory, raw_sql
) -> None:
    customer = await _shop(factory)
    day = utcnow().date() - 3 * DAY
    first = await factory.completed_sale(customer.id, [("TEA", 2), ("CUP", 1)])
    second = await factory.completed_sale(None, [("TEA", 3)], payment="CARD")
    voided = await factory.completed_sale(None, [("CUP", 5)])
    for sale in (first, second, voided):
        await move_sale(runtime, sale.id, at(day))
    await reversals(factory).void(voided.id, "wrong till")

    run = await run_nightly(runtime.tx, at(day + DAY, 2))

    assert run.claimed
    assert run.result
    assert run.result["day"] == day.isoformat()
    # A voided sale counts nowhere; a product on two sales is in 2 sales.
    assert await raw_sql(PRODUCT_ROWS, day=day) == [
        ("CUP", 1, 1000, 0, 1, 0, 0),
        ("TEA", 5, 1250, 0, 2, 0, 0),
    ]
    # The sale's segment is the one it was completed with: a first purchase, NEW.
    assert await raw_sql(MIX_ROWS, day=day) == [
        ("CARD", None, 1, 3, 750, 0, 0),
        ("CASH", "NEW", 1, 3, 1500, 0, 0),
    ]
    assert await raw_sql(
        "SELECT sales, revenue_cents FROM customer_daily WHERE day = :day", day=day
    ) == [(1, 1500)]


async def test_a_late_return_marks_its_sale_day_and_the_next_night_recomputes_it(
    runtime, factory, raw_sql
) -> None:
    await _shop(factory)
    day = utcnow().date() - 5 * DAY
    sale = await factory.completed_sale(None, [("TEA", 4)])
    await move_sale(runtime, sale.id, at(day))
    await run_nightly(runtime.tx, at(day + DAY, 2))
    lines = (await factory.sales().lines_for([sale.id]))[sale.id]

    back = await reversals(factory).return_goods(
        sale.id, SaleReturnCommand((ReturnLineDraft(lines[0].id, 1),))
    )
    assert back.value, back.errors
    assert await raw_sql("SELECT day FROM sales_dirty_days") != []

    today = utcnow().date()
    run = await run_nightly(runtime.tx, at(today, 2))
    assert run.result
    assert run.result["dirtyDays"] == 1
    assert await raw_sql(PRODUCT_ROWS, day=day) == [("TEA", 4, 1000, 0, 1, 1, 250)]
    assert await raw_sql("SELECT day FROM sales_dirty_days") == []


async def test_a_late_void_removes_the_sale_from_its_day(runtime, factory, raw_sql) -> None:
    await _shop(factory)
    day = utcnow().date() - 2 * DAY
    kept = await factory.completed_sale(None, [("CUP", 1)])
    voided = await factory.completed_sale(None, [("CUP", 2)])
    for sale in (kept, voided):
        await move_sale(runtime, sale.id, at(day))
    await run_nightly(runtime.tx, at(day + DAY, 2))
    assert await raw_sql(PRODUCT_ROWS, day=day) == [("CUP", 3, 3000, 0, 2, 0, 0)]

    await reversals(factory).void(voided.id, "refused at the door")
    await run_nightly(runtime.tx, at(utcnow().date(), 2))

    assert await raw_sql(PRODUCT_ROWS, day=day) == [("CUP", 1, 1000, 0, 1, 0, 0)]


async def test_a_change_to_todays_sale_marks_nothing(runtime, factory, raw_sql) -> None:
    await _shop(factory)
    sale = await factory.completed_sale(None, [("CUP", 1)])
    await reversals(factory).void(sale.id, None)
    # Today is recomputed whole by tomorrow's run: a mark would be work twice.
    assert await raw_sql("SELECT day FROM sales_dirty_days") == []


async def test_a_mark_made_while_the_night_ran_survives_for_the_next(
    runtime, factory, raw_sql
) -> None:
    from app.db.repositories.sales_aggregates import SalesAggregateRepository

    store_id = (await factory.head_office()).id
    day = date(2026, 11, 2)

    async def mark(uow):  # type: ignore[no-untyped-def]
        await SalesAggregateRepository(uow.session).mark(day, store_id, uow.now)

    async def read(uow):  # type: ignore[no-untyped-def]
        return await SalesAggregateRepository(uow.session).dirty()

    async def clear(uow):  # type: ignore[no-untyped-def]
        await SalesAggregateRepository(uow.session).clear(seen)

    await runtime.tx.run(None, mark)
    seen = (await runtime.tx.run(None, read)).value
    await runtime.tx.run(None, mark)  # the sale changed again after the job read the marks
    await runtime.tx.run(None, clear)
    assert len(await raw_sql("SELECT mark FROM sales_dirty_days")) == 1


async def test_running_a_night_twice_or_on_two_workers_at_once_changes_nothing(
    runtime, factory, raw_sql
) -> None:
    await _shop(factory)
    day = utcnow().date() - DAY
    sale = await factory.completed_sale(None, [("TEA", 2)])
    await move_sale(runtime, sale.id, at(day))

    runs = await asyncio.gather(
        run_nightly(runtime.tx, at(day + DAY, 2)), run_nightly(runtime.tx, at(day + DAY, 3))
    )
    again = await run_nightly(runtime.tx, at(day + DAY, 4))

    assert sorted(r.claimed for r in runs) == [False, True]
    assert not again.claimed
    assert await raw_sql(PRODUCT_ROWS, day=day) == [("TEA", 2, 500, 0, 1, 0, 0)]
    assert await raw_sql(
        "SELECT COUNT(*) FROM job_runs WHERE job_name = :name", name=AGGREGATES_JOB
    ) == [(1,)]


async def test_missed_nights_are_caught_up_oldest_first(runtime, factory, raw_sql) -> None:
    await _shop(factory)
    today = utcnow().date()
    days = [today - 3 * DAY, today - 2 * DAY, today - DAY]
    for n, day in enumerate(days, start=1):
        sale = await factory.completed_sale(None, [("TEA", n)])
        await move_sale(runtime, sale.id, at(day))

    runs = await run_due(runtime.tx, SCHEDULED_JOBS[AGGREGATES_JOB], at(today, 3))

    assert [r.result["day"] for r in runs if r.result][-3:] == [d.isoformat() for d in days]
    rows = await raw_sql("SELECT day, units FROM sales_daily ORDER BY day")
    assert [units for _, units in rows] == [1, 2, 3]


async def test_a_full_rebuild_gives_what_the_nights_gave(runtime, factory, raw_sql) -> None:
    customer = await _shop(factory)
    today = utcnow().date()
    for n in range(1, 4):
        sale = await factory.completed_sale(customer.id, [("TEA", n), ("CUP", 1)])
        await move_sale(runtime, sale.id, at(today - n * DAY))
        # A walk-in (no segment) and a sale without a cashier: keys the night joins on.
        walk_in = await factory.completed_sale(None, [("TEA", 1)])
        await move_sale(runtime, walk_in.id, at(today - n * DAY), cashier_id=None)
    await run_due(runtime.tx, SCHEDULED_JOBS[AGGREGATES_JOB], at(today, 3))
    tables = (
        "SELECT * FROM sales_daily ORDER BY day, product_id",
        "SELECT day, store_id, cashier_id, payment, segment, sales, units, revenue_cents, "
        "discount_cents, points_redeemed, returned_cents FROM sales_daily_mix "
        "ORDER BY day, payment, cashier_id, segment",
        "SELECT day, store_id, cashier_id, source, sales, discount_cents "
        "FROM sales_daily_discounts ORDER BY day, cashier_id, source",
        "SELECT * FROM customer_daily ORDER BY day, customer_id",
    )
    nightly = [await raw_sql(sql) for sql in tables]

    await rebuild(runtime.tx)

    assert [await raw_sql(sql) for sql in tables] == nightly
    assert len(nightly[0]) == 6
    assert len(nightly[1]) == 6
    assert all(row[6] for row in nightly[1])  # units


async def test_a_night_costs_the_same_statements_for_one_sale_or_many(
    runtime, factory, count_statements
) -> None:
    await _shop(factory)
    day = utcnow().date() - DAY

    async def night_with(sales: int, slot_day: date) -> int:
        for _ in range(sales):
            sale = await factory.completed_sale(None, [("TEA", 1), ("CUP", 1)])
            await move_sale(runtime, sale.id, at(slot_day - DAY))
        with count_statements() as counter:
            await run_nightly(runtime.tx, at(slot_day, 2))
        return counter.count

    one = await night_with(1, day)
    many = await night_with(12, day + DAY)
    # Set-based: an INSERT … SELECT per table (SQLite: from the night's sales and lines
    # staged once in two temporary tables: create, fill, drop) and segments by one
    # INSERT … SELECT, and the monthly rollup's delta around them (take out, put in),
    # whatever the number of sales, lines or customers.
    assert one == many
    assert many <= 29
