"""Till lookups are index searches, never scans (DESIGN.md §6: 0.8 ms vs 100 ms at 1M customers)."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.engine import Database
from app.db.repositories.customers import CustomerFilterSpec, CustomerRepository
from app.services.customers import CustomerService
from tests.conftest import BACKEND

# What a cashier types; the service turns each into the search the repository runs.
TERMS = [
    "212 555",
    "(212) 555-0100",
    "+44 7700",
    "0142",  # the last four digits said aloud
    "C00042",
    "Ada@Example.com",
    "ada love",
]


async def explain(db: Database, sql: str, params: Any = ()) -> str:
    async with db.read() as session:
        conn = await session.connection()
        if BACKEND == "sqlite":
            rows = await conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", params)
            return "\n".join(str(r[-1]) for r in rows)
        # A tiny test table makes a scan cheapest; forbid it to see whether an index fits.
        await conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
        rows = await conn.exec_driver_sql(f"EXPLAIN {sql}", params)
        return "\n".join(str(r[0]) for r in rows)


def assert_index_search(plan: str) -> None:
    if BACKEND == "sqlite":
        assert "INDEX" in plan, plan
        # Any table, even via an index; not the matches a ranked search gathered (anon_N).
        assert not re.findall(r"^SCAN (?!anon_\d+$)\w+", plan, re.M), plan
    else:
        assert "Index" in plan, plan
        assert "Seq Scan" not in plan, plan
        # An index scan without a condition reads the whole index: a scan by another name.
        scans = len(re.findall(r"Index (Only )?Scan", plan))
        assert len(re.findall(r"Index Cond", plan)) >= scans, plan


async def selects_sent(
    db: Database, call: Callable[[AsyncSession], Awaitable[Any]]
) -> list[tuple[str, Any]]:
    """The SELECTs a repository call on a read session really sends, with their parameters."""
    sent: list[tuple[str, Any]] = []

    def before(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            sent.append((statement, parameters))

    event.listen(db.engine.sync_engine, "before_cursor_execute", before)
    try:
        async with db.read() as session:
            await call(session)
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", before)
    return sent


@pytest.mark.parametrize("prefixes", [True, False], ids=["pii", "masked"])
@pytest.mark.parametrize("term", TERMS)
async def test_lookup_is_an_index_search(db, term: str, prefixes: bool) -> None:
    # prefixes=False: a caller without CUSTOMER_VIEW_PII (whole numbers and endings only).
    search = CustomerService.to_search(term, "US", prefixes=prefixes)
    # The SQL page() sends (the count, then the ordered page), not just its WHERE clause.
    sent = await selects_sent(
        db, lambda s: CustomerRepository(s).page(search, CustomerFilterSpec(), 20, None)
    )
    assert len(sent) == 2
    for sql, params in sent:
        assert_index_search(await explain(db, sql, params))


async def test_the_phone_uniqueness_check_is_an_index_search(db) -> None:
    [(sql, params)] = await selects_sent(
        db, lambda s: CustomerRepository(s).id_by_phone("+12125550100")
    )
    assert_index_search(await explain(db, sql, params))


async def test_a_scan_through_an_index_is_recognised(db) -> None:
    # Reads every entry of the name index: "uses an index" alone would let it pass.
    plan = await explain(db, "SELECT id FROM customers ORDER BY name_key")
    with pytest.raises(AssertionError):
        assert_index_search(plan)


async def test_the_card_number_lookup_is_an_index_search(db) -> None:
    # Scanned or typed in any case; looks like a name, so the name lookups run too.
    search = CustomerService.to_search(" vip-2024-0042 ", "US")
    assert search.card_number == "VIP-2024-0042"
    sent = await selects_sent(
        db, lambda s: CustomerRepository(s).page(search, CustomerFilterSpec(), 20, None)
    )
    assert len(sent) == 2
    for sql, params in sent:
        assert "loyalty_cards" in sql
        assert_index_search(await explain(db, sql, params))


@pytest.mark.parametrize("term", ["0142", "555-0142", "2125550142"])
async def test_the_last_digits_search_ranges_over_the_reversed_numbers(db, term: str) -> None:
    # Issue 9 §7 (and issue 13): an ending is a prefix range on phone_reversed, main and
    # other phones alike, never LIKE '%0142' over every number.
    search = CustomerService.to_search(term, "US", prefixes=False)
    assert search.phone_prefixes == ()
    assert search.phone_suffix_reversed == "".join(c for c in term if c.isdigit())[::-1]
    sent = await selects_sent(
        db, lambda s: CustomerRepository(s).page(search, CustomerFilterSpec(), 20, None)
    )
    assert len(sent) == 2
    for sql, params in sent:
        assert sql.count("phone_reversed >=") == 2, sql
        assert "LIKE" not in sql.upper()
        plan = await explain(db, sql, params)
        assert_index_search(plan)
        assert "phone_reversed" in plan, plan
