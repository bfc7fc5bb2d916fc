"""Till lookups are index searches, never scans (DESIGN.md §6: 0.8 ms vs 100 ms at 1M customers)."""

from __future__ import annotations

import pytest
from sqlalchemy import select, text
from sqlalchemy.dialects import postgresql, sqlite

from app.db.models import Customer
from app.db.repositories.customers import CustomerFilterSpec, CustomerRepository, CustomerSearch
from app.services.customers import CustomerService
from tests.conftest import BACKEND

# What a cashier types; the service turns each into the search the repository runs.
TERMS = ["212 555", "(212) 555-0100", "+44 7700", "C00042", "Ada@Example.com"]


async def plan(db, search: CustomerSearch) -> str:  # type: ignore[no-untyped-def]
    repo = CustomerRepository(None)  # type: ignore[arg-type]  (only builds SQL)
    stmt = select(Customer.id).where(*repo.conditions(search, CustomerFilterSpec()))
    dialect = sqlite.dialect() if BACKEND == "sqlite" else postgresql.dialect()
    sql = str(stmt.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))
    async with db.read() as session:
        if BACKEND == "sqlite":
            rows = await session.execute(text(f"EXPLAIN QUERY PLAN {sql}"))
            return "\n".join(str(r[-1]) for r in rows)
        # A tiny test table makes a scan cheapest; forbid it to see whether an index fits.
        await session.execute(text("SET LOCAL enable_seqscan = off"))
        rows = await session.execute(text(f"EXPLAIN {sql}"))
        return "\n".join(str(r[0]) for r in rows)


@pytest.mark.parametrize("term", TERMS)
async def test_lookup_is_an_index_search(db, settings, term: str) -> None:
    search = CustomerService.to_search(term, "US")
    found = await plan(db, search)
    if BACKEND == "sqlite":
        assert "INDEX" in found, found
        assert "SCAN customers" not in found, found
    else:
        assert "Index" in found, found
        assert "Seq Scan" not in found, found
