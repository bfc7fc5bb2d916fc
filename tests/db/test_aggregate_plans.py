"""The nightly recompute reads the days it recomputes, and the till's segment one customer.

A plan that scans every sale would pass every functional test and take minutes on a
year of a chain's sales (bench/aggregates.py), so the plans themselves are checked.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import event

from app.db.engine import Database
from app.db.repositories.sales_aggregates import SalesAggregateRepository, Span
from app.db.repositories.segments import SegmentRepository
from tests.conftest import BACKEND
from tests.db.test_search_plans import explain

SALE_TABLES = ("sales", "sale_lines", "sale_discounts")


def _sent_during(db: Database, sent: list[tuple[str, Any]]) -> Any:
    def before(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if "sales" in statement:
            sent.append((statement, parameters))

    return before


def assert_no_scan_of_sales(plan: str) -> None:
    if BACKEND == "sqlite":
        for table in SALE_TABLES:
            assert not re.findall(rf"^\s*SCAN {table}\b", plan, re.M), plan
    else:
        assert not re.findall(r"Seq Scan on (sales|sale_lines|sale_discounts)\b", plan), plan


async def test_a_night_reads_its_day_and_its_dirty_days_by_index(db: Database, factory) -> None:
    store = (await factory.head_office()).id
    night = date(2026, 12, 5)
    spans = [
        Span(night, night + timedelta(days=1)),
        Span(date(2026, 6, 1), date(2026, 6, 2), (store,)),
    ]
    plans: dict[str, str] = {}  # by the tables a statement reads

    def explain_reads_of_sales(conn: Any, _cursor: Any, sql: str, params: Any, *_: Any) -> None:
        # Explained as it is sent, on its connection: the night's staging tables are
        # temporary, so they exist only there and only until the night ends.
        reads = [t for t in SALE_TABLES if re.search(rf"\bFROM {t}\b|\bJOIN {t}\b", sql)]
        if sql.lstrip().startswith("INSERT") and reads and "EXPLAIN" not in sql:
            select = sql[sql.index("SELECT") :]
            if BACKEND == "sqlite":
                rows = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {select}", params)
                plans[" ".join(reads)] = "\n".join(str(r[-1]) for r in rows)
            else:
                conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
                rows = conn.exec_driver_sql(f"EXPLAIN {select}", params)
                plans[" ".join(reads)] = "\n".join(str(r[0]) for r in rows)
                conn.exec_driver_sql("SET LOCAL enable_seqscan = on")

    event.listen(db.write_engine.sync_engine, "before_cursor_execute", explain_reads_of_sales)
    try:
        async with db.write() as session:
            await SalesAggregateRepository(session).recompute(spans)
    finally:
        event.remove(db.write_engine.sync_engine, "before_cursor_execute", explain_reads_of_sales)
    # The sales of the spans by completion time (SQLite: once, staged); lines and
    # discounts by sale.
    assert {t for reads in plans for t in reads.split()} == set(SALE_TABLES)
    for plan in plans.values():
        assert_no_scan_of_sales(plan)
        assert ("INDEX" in plan) if BACKEND == "sqlite" else ("Index" in plan), plan
    if BACKEND == "sqlite":
        assert "ix_sales_completed" in plans["sales"], plans["sales"]


async def test_the_tills_segment_reads_one_customers_sales(db: Database, factory) -> None:
    await factory.product("TEA")
    customer = await factory.customer()
    await factory.completed_sale(customer.id, [("TEA", 1)])
    sent: list[tuple[str, Any]] = []
    listener = _sent_during(db, sent)
    event.listen(db.write_engine.sync_engine, "before_cursor_execute", listener)
    event.listen(db.engine.sync_engine, "before_cursor_execute", listener)
    try:
        async with db.write() as session:
            await SegmentRepository(session).activity_at_sale(
                customer.id, datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 2, 1, tzinfo=UTC)
            )
    finally:
        event.remove(db.write_engine.sync_engine, "before_cursor_execute", listener)
        if db.engine is not db.write_engine:
            event.remove(db.engine.sync_engine, "before_cursor_execute", listener)
    assert len(sent) == 1  # their sales in the window, with the chain's cuts
    for sql, params in sent:
        plan = await explain(db, sql, params)
        assert_no_scan_of_sales(plan)
        assert ("INDEX" in plan) if BACKEND == "sqlite" else ("Index" in plan), plan
