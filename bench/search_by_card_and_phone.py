"""Till lookups over 1M customers: by full phone number and by loyalty card number.

Usage: ``.venv/bin/python bench/search_by_card_and_phone.py [--customers N --requests N]``
(default 1,000,000 customers, each with a loyalty card; 1,000 requests per kind); with
``POSCRM_DATABASE_URL=postgresql+asyncpg://…`` on PostgreSQL (see ``_common.py``).

Each request is ``customers(search: …, first: 20)`` through the whole ASGI app (auth,
GraphQL, services, SQL), as a till sends it: a phone number as typed (national format),
or a scanned card number. Baseline: the very statements each request ran, replayed on
the bare driver in the same run. The table is filled with bulk SQL (cards too, directly
into ``loyalty_cards``), not through the API: the bench measures lookups, not filling.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
import uuid
from datetime import UTC, datetime
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

from app.db.models import Customer, LoyaltyCard

QUERY = (
    "query($q: String!) { customers(search: $q, first: 20) "
    "{ totalCount edges { node { id name phone } } } }"
)
AREAS = [201, 202, 203, 205, 206, 207, 208, 209, 210, 212, 213, 214, 215, 216, 217, 218]
CHUNK = 20_000


def phone_of(n: int) -> tuple[int, int, int]:
    """Area, exchange and line of customer ``n``: unique, valid US numbers."""
    area, rest = AREAS[n % len(AREAS)], n // len(AREAS)
    return area, 555 + rest // 10_000, rest % 10_000


def card_of(n: int) -> str:
    # 13 digits like an EAN-13 membership barcode.
    return f"99{n:011d}"


async def fill(app: Any, customers: int) -> None:
    db = app.state.runtime.db
    rng = random.Random(7)
    now = datetime.now(UTC)
    started = time.perf_counter()
    for start in range(0, customers, CHUNK):
        people, cards = [], []
        for n in range(start, min(start + CHUNK, customers)):
            area, exchange, line = phone_of(n)
            name = f"Customer {rng.randrange(10**6):06d}"
            customer_id = uuid.uuid4()
            people.append(
                {
                    "id": customer_id,
                    "name": name,
                    "name_key": name.lower(),
                    "phone": f"+1{area}{exchange}{line:04d}",
                    "status": "ACTIVE",
                    "version": 1,
                    "created_at": now,
                    "updated_at": now,
                }
            )
            cards.append(
                {
                    "id": uuid.uuid4(),
                    "customer_id": customer_id,
                    "card_number": card_of(n),
                    "status": "ACTIVE",
                    "issued_at": now,
                    "issued_by": "bench",
                }
            )
        async with db.write() as session:
            await session.execute(insert(Customer.__table__), people)
            await session.execute(insert(LoyaltyCard.__table__), cards)
    print(f"filled {customers} customers and cards in {time.perf_counter() - started:.0f} s")


async def run(customers: int, requests: int) -> None:
    tmp = temp_dir()
    rng = random.Random(11)
    picks = [rng.randrange(customers) for _ in range(requests)]
    phones = [{"q": "({}) {}-{:04d}".format(*phone_of(n))} for n in picks]
    cards = [{"q": card_of(n)} for n in picks]
    async with scratch_database(tmp) as database_url, running_app(database_url, tmp) as app:
        await fill(app, customers)
        token = await make_token(app)
        results = []
        for kind, terms in (("phone", phones), ("card", cards)):
            server, per_request, answers = await time_graphql(app, token, QUERY, terms)
            baseline = await replay(database_url, per_request)
            results.append((kind, server, per_request, answers, baseline))
    backend = make_url(database_url).get_backend_name()
    print(f"customers: {customers}  requests: {requests} per kind  backend: {backend}")
    for kind, server, per_request, answers, baseline in results:
        found = sum(a["customers"]["totalCount"] for a in answers) / requests
        statements = statistics.mean(len(s) for s in per_request)
        print(f"\n{kind} search: {statements:.1f} statements per request, {found:.2f} matches")
        if found < 1:
            print("  (no match: this build does not find customers by card number yet)")
        print_timings([("server (GraphQL over ASGI)", server), ("raw driver, same SQL", baseline)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=1000)
    args = parser.parse_args()
    # uvloop, as `poscrm serve` runs (DESIGN.md §6).
    uvloop.run(run(args.customers, args.requests))


if __name__ == "__main__":
    main()
