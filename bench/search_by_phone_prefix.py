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
import random
import statistics
import uuid
from typing import Any

import uvloop
from _common import (
    make_token,
    print_timings,
    replay,
    running_app,
    scratch_database,
    temp_dir,
    time_graphql,
)
from sqlalchemy import insert
from sqlalchemy.engine import make_url

from app.db.models import Customer

QUERY = (
    "query($q: String!) { customers(search: $q, first: 20) "
    "{ totalCount edges { node { id name phone } } } }"
)
AREAS = [201, 202, 203, 205, 206, 207, 208, 209, 210, 212]


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


async def run(customers: int, requests: int) -> None:
    tmp = temp_dir()
    async with scratch_database(tmp) as database_url, running_app(database_url, tmp) as app:
        await fill(app, customers)
        token = await make_token(app)
        rng = random.Random(11)
        terms = [
            {"q": f"{rng.choice(AREAS)}555{rng.randrange(customers // len(AREAS) // 10):03d}"}
            for _ in range(requests)
        ]
        server, per_request, answers = await time_graphql(app, token, QUERY, terms)
        baseline = await replay(database_url, per_request)
    found = sum(a["customers"]["totalCount"] for a in answers)
    statements = statistics.mean(len(s) for s in per_request)
    backend = make_url(database_url).get_backend_name()
    print(f"customers: {customers}  requests: {requests}  backend: {backend}")
    print(f"statements per request: {statements:.1f}  matches per search: {found / requests:.1f}")
    print_timings([("server (GraphQL over ASGI)", server), ("raw driver, same SQL", baseline)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=1000)
    args = parser.parse_args()
    # uvloop, as `poscrm serve` runs (DESIGN.md §6).
    uvloop.run(run(args.customers, args.requests))


if __name__ == "__main__":
    main()
