"""Customer search by phone prefix over 100k customers: the server against its own SQL.

Usage: ``make bench`` or ``.venv/bin/python bench/search_by_phone_prefix.py [--customers N]``.
With ``POSCRM_DATABASE_URL=postgresql+asyncpg://…`` it runs on PostgreSQL (a database of
its own, created and dropped); otherwise on a SQLite file in a temporary folder.

Server side: a GraphQL ``customers(search:)`` request through the whole ASGI app (auth,
parsing, validation, resolvers, SQL), in-process, so no socket noise. Baseline: the very
statements that request ran (captured from the engine), replayed on the bare driver
(sqlite3 / asyncpg) in the same run. The ratio is what our stack costs over its SQL.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
import uvloop
from sqlalchemy import event, insert
from sqlalchemy.engine import make_url

from app.db.migrate import upgrade
from app.db.models import Customer
from app.domain.permissions import Permission
from app.main import create_app
from app.settings import Settings

QUERY = (
    "query($q: String!) { customers(search: $q, first: 20) "
    "{ totalCount edges { node { id name phone } } } }"
)
AREAS = [201, 202, 203, 205, 206, 207, 208, 209, 210, 212]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def fill(app: Any, customers: int) -> None:
    db = app.state.runtime.db
    rng = random.Random(7)
    rows = []
    for n in range(customers):
        area = AREAS[n % len(AREAS)]
        name = f"Customer {rng.randrange(10**6):06d}"
        rows.append(
            {
                "id": uuid.uuid4(),
                "name": name,
                "name_key": name.lower(),
                "phone": f"+1{area}555{n // len(AREAS):04d}",
                "status": "ACTIVE",
                "version": 1,
            }
        )
    async with db.write() as session:
        for start in range(0, len(rows), 5000):
            await session.execute(insert(Customer), rows[start : start + 5000])


async def make_token(app: Any) -> str:
    from tests.factories import Factory

    return await Factory(app.state.runtime).token(Permission.CUSTOMER_VIEW)


async def run(customers: int, requests: int) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="poscrm-bench-"))
    pg_url = os.environ.get("POSCRM_DATABASE_URL", "")
    admin = None
    if pg_url.startswith("postgresql"):
        import asyncpg

        name = f"poscrm_bench_{uuid.uuid4().hex[:8]}"
        url = make_url(pg_url)
        admin = await asyncpg.connect(
            host=url.host, port=url.port, user=url.username, database=url.database
        )
        await admin.execute(f'CREATE DATABASE "{name}"')
        database_url = url.set(database=name).render_as_string(hide_password=False)
    else:
        database_url = f"sqlite+aiosqlite:///{tmp / 'bench.db'}"
    settings = Settings(
        data_dir=tmp, database_url=database_url, redis_url=os.environ.get("POSCRM_REDIS_URL", "")
    )
    await asyncio.to_thread(upgrade, database_url)
    app = create_app(settings)
    try:
        async with app.router.lifespan_context(app):
            await fill(app, customers)
            token = await make_token(app)
            await bench(app, token, requests, database_url, customers)
    finally:
        if admin is not None:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await admin.close()


async def bench(app: Any, token: str, requests: int, database_url: str, customers: int) -> None:
    db = app.state.runtime.db
    captured: list[tuple[str, Any]] = []

    def capture(_c: Any, _cur: Any, statement: str, parameters: Any, *_: Any) -> None:
        if not statement.startswith(("BEGIN", "PRAGMA", "COMMIT", "ROLLBACK")):
            captured.append((statement, parameters))

    rng = random.Random(11)
    terms = [
        f"{rng.choice(AREAS)}555{rng.randrange(customers // len(AREAS) // 10):03d}"
        for _ in range(requests)
    ]
    transport = httpx.ASGITransport(app=app)
    headers = {"Authorization": f"Bearer {token}"}
    server: list[float] = []
    per_request: list[list[tuple[str, Any]]] = []
    found = 0
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
        for term in terms[:50]:  # warm-up: caches, connections, the OS page cache
            await client.post(
                "/graphql", json={"query": QUERY, "variables": {"q": term}}, headers=headers
            )
        event.listen(db.engine.sync_engine, "before_cursor_execute", capture)
        for term in terms:
            captured.clear()
            started = time.perf_counter()
            response = await client.post(
                "/graphql", json={"query": QUERY, "variables": {"q": term}}, headers=headers
            )
            server.append(time.perf_counter() - started)
            found += response.json()["data"]["customers"]["totalCount"]
            per_request.append(list(captured))
        event.remove(db.engine.sync_engine, "before_cursor_execute", capture)

    baseline = await replay(database_url, per_request)
    statements = statistics.mean(len(s) for s in per_request)
    backend = make_url(database_url).get_backend_name()
    print(f"customers: {customers}  requests: {requests}  backend: {backend}")
    print(f"statements per request: {statements:.1f}  matches per search: {found / requests:.1f}")
    for label, values in (
        ("server (GraphQL over ASGI)", server),
        ("raw driver, same SQL", baseline),
    ):
        print(
            f"{label:28s} median {statistics.median(values) * 1000:7.3f} ms"
            f"   p99 {percentile(values, 0.99) * 1000:7.3f} ms"
        )
    print(
        f"ratio server/raw: median {statistics.median(server) / statistics.median(baseline):.1f}x"
        f"   p99 {percentile(server, 0.99) / percentile(baseline, 0.99):.1f}x"
    )


async def replay(database_url: str, per_request: list[list[tuple[str, Any]]]) -> list[float]:
    url = make_url(database_url)
    timings: list[float] = []
    if url.get_backend_name() == "sqlite":
        conn = sqlite3.connect(url.database or "")
        for statements in per_request:
            started = time.perf_counter()
            for sql, params in statements:
                conn.execute(sql, params).fetchall()
            timings.append(time.perf_counter() - started)
        conn.close()
        return timings
    import asyncpg

    conn = await asyncpg.connect(
        host=url.host, port=url.port, user=url.username, database=url.database
    )
    try:
        for statements in per_request:
            started = time.perf_counter()
            for sql, params in statements:
                await conn.fetch(sql, *params)
            timings.append(time.perf_counter() - started)
    finally:
        await conn.close()
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=1000)
    args = parser.parse_args()
    # uvloop, as `poscrm serve` runs (DESIGN.md §6).
    uvloop.run(run(args.customers, args.requests))


if __name__ == "__main__":
    main()
