"""The customer screen's sales are an index range, read no further than the page."""

from __future__ import annotations

import uuid

from app.db.engine import Database
from app.db.repositories.sales import SaleRepository
from tests.conftest import BACKEND
from tests.db.test_search_plans import assert_index_search, explain, selects_sent


async def test_a_customers_sales_page_is_an_index_range_in_order(db: Database) -> None:
    selects = await selects_sent(
        db, lambda s: SaleRepository(s).customer_pages([uuid.uuid4()], 20, None)
    )
    assert len(selects) == 1  # the page, with its count and applied discounts
    for sql, params in selects:
        plan = await explain(db, sql, params)
        assert_index_search(plan)
        if BACKEND == "sqlite":
            # Newest first straight off the index: no sort of all their sales.
            assert "TEMP B-TREE" not in plan, plan
        else:
            assert "Sort" not in plan, plan
