"""The store feeds' lookups are index searches: a sale reads which stores hold its customer."""

from __future__ import annotations

import uuid

from app.db.engine import Database
from app.db.repositories.sync import SyncRepository
from tests.db.test_search_plans import assert_index_search, explain, selects_sent


async def test_the_stores_holding_a_customer_are_found_by_index(db: Database) -> None:
    customers = [uuid.uuid4(), uuid.uuid4()]
    [(sql, params)] = await selects_sent(db, lambda s: SyncRepository(s).holders(customers))
    assert_index_search(await explain(db, sql, params))
