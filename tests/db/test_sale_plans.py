"""The customer screen's sales are an index range, read no further than the page."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import event

from app.db.engine import Database
from app.db.repositories.sales import SaleRepository
from tests.conftest import BACKEND
from tests.db.test_search_plans import assert_index_search, explain


async def test_a_customers_sales_page_is_an_index_range_in_order(db: Database) -> None:
    sent: list[tuple[str, Any]] = []

    def before(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        sent.append((statement, parameters))

    event.listen(db.engine.sync_engine, "before_cursor_execute", before)
    try:
        async with db.read() as session:
            await SaleRepository(session).customer_pages([uuid.uuid4()], 20, None)
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", before)
    selects = [(sql, params) for sql, params in sent if sql.lstrip().startswith("SELECT")]
    assert len(selects) == 1  # the page, with its count and applied discounts
    for sql, params in selects:
        plan = await explain(db, sql, params)
        assert_index_search(plan)
        if BACKEND == "sqlite":
            # Newest first straight off the index: no sort of all their sales.
            assert "TEMP B-TREE" not in plan, plan
        else:
            assert "Sort" not in plan, plan
