"""The store feeds' lookups are index searches: a sale reads which stores hold its customer."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import event

from app.db.engine import Database
from app.db.repositories.sync import SyncRepository
from tests.db.test_search_plans import assert_index_search, explain


async def test_the_stores_holding_a_customer_are_found_by_index(db: Database) -> None:
    sent: list[tuple[str, Any]] = []

    def before(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        sent.append((statement, parameters))

    event.listen(db.engine.sync_engine, "before_cursor_execute", before)
    try:
        async with db.read() as session:
            await SyncRepository(session).holders([uuid.uuid4(), uuid.uuid4()])
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", before)
    [(sql, params)] = [(s, p) for s, p in sent if s.lstrip().startswith("SELECT")]
    assert_index_search(await explain(db, sql, params))
