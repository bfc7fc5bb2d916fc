"""Till lookups over 1M customers: by full phone number, loyalty card number and code.

Usage: ``.venv/bin/python bench/search_by_card_and_phone.py [--customers N --requests N
--serve]``
(default 1,000,000 customers, each with a loyalty card; 1,000 requests per kind); with
``POSCRM_DATABASE_URL=postgresql+asyncpg://…`` on PostgreSQL (see ``_common.py``).

Each request is ``customers(search: …, first: 20)`` through the whole ASGI app (auth,
GraphQL, services, SQL), as a till sends it: a phone number as typed (national format),
or a scanned card number. Baseline: the very statements each request ran, replayed on
the bare driver in the same run. The table is filled with bulk SQL (cards too, directly
into ``loyalty_cards``), not through the API: the bench measures lookups, not filling.
Every customer has a customer code (``M`` and 7 digits), so a code search is timed too.

``--serve`` then starts one ``poscrm serve --no-worker`` on the same database (a data
folder of its own, ``POSCRM_LOG_LEVEL=WARNING``) and times over real HTTP, one client on
one keep-alive connection (as a till holds one), in the same rounds: anonymous
``{ __typename }``, the phone, the card and the code search with the same token; each
series' p50/p99 and its median and p99 over the anonymous one (issue 12's target: p50 <=
2.5 ms, p99 <= 6 ms, <= 3x anonymous).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import uvloop
from _common import (
    make_token,
    percentile,
    print_timings,
    replay,
    running_app,
    scratch_database,
    served,
    temp_dir,
    time_graphql,
)
from sqlalchemy import insert
from sqlalchemy.engine import make_url

from app.db.models import Customer, LoyaltyCard
from app.domain.permissions import Permission

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


def code_of(n: int) -> str:
    return f"M{n:07d}"


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
                    "customer_code": code_of(n),
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


SERVE_LABELS = ("anonymous", "phone", "card", "code")
WARM_UP = 50


async def over_http(
    database_url: str, tmp: Path, token: str, terms: dict[str, list[dict[str, str]]]
) -> dict[str, list[float]]:
    """One `poscrm serve` on the database; every round sends each request once, so the
    machine's noise falls on every series alike."""
    series: dict[str, list[float]] = {label: [] for label in SERVE_LABELS}
    auth = {"authorization": f"Bearer {token}"}
    async with (
        served(database_url, tmp / "serve") as port,
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client,
    ):
        rounds = len(terms["phone"])
        for round_ in range(-WARM_UP, rounds):
            i = round_ % rounds
            bodies: list[tuple[str, dict[str, Any], dict[str, str]]] = [
                ("anonymous", {"query": "{ __typename }"}, {}),
                *(
                    (kind, {"query": QUERY, "variables": terms[kind][i]}, auth)
                    for kind in SERVE_LABELS[1:]
                ),
            ]
            for label, body, headers in bodies:
                started = time.perf_counter()
                response = await client.post("/graphql", json=body, headers=headers)
                elapsed = time.perf_counter() - started
                data = response.json()
                if "errors" in data:
                    raise RuntimeError(f"GraphQL errors: {data['errors']}")
                if label != "anonymous" and data["data"]["customers"]["totalCount"] != 1:
                    raise RuntimeError(f"{label} search found {data['data']}")
                if round_ >= 0:  # the first are warm-up (caches, connections)
                    series[label].append(elapsed)
    return series


def print_http(series: dict[str, list[float]]) -> None:
    anonymous = series["anonymous"]
    a50, a99 = statistics.median(anonymous), percentile(anonymous, 0.99)
    print("\nover HTTP (poscrm serve, one keep-alive client, same rounds):")
    for label, values in series.items():
        p50, p99 = statistics.median(values), percentile(values, 0.99)
        print(
            f"  {label:10s} p50 {p50 * 1000:7.3f} ms   p99 {p99 * 1000:7.3f} ms"
            f"   / anonymous: p50 {p50 / a50:5.2f}x   p99 {p99 / a99:5.2f}x"
        )


async def run(customers: int, requests: int, serve: bool) -> None:
    tmp = temp_dir()
    rng = random.Random(11)
    picks = [rng.randrange(customers) for _ in range(requests)]
    terms = {
        "phone": [{"q": "({}) {}-{:04d}".format(*phone_of(n))} for n in picks],
        "card": [{"q": card_of(n)} for n in picks],
        "code": [{"q": code_of(n)} for n in picks],
    }
    http: dict[str, list[float]] = {}
    async with scratch_database(tmp) as database_url:
        async with running_app(database_url, tmp) as app:
            await fill(app, customers)
            # With PII: a till's cashier may look up any number of phones (the lookup
            # limit is for callers who see numbers masked).
            token = await make_token(app, Permission.CUSTOMER_VIEW, Permission.CUSTOMER_VIEW_PII)
            results = []
            for kind, values in terms.items():
                server, per_request, answers = await time_graphql(app, token, QUERY, values)
                baseline = await replay(database_url, per_request)
                results.append((kind, server, per_request, answers, baseline))
        if serve:
            http = await over_http(database_url, tmp, token, terms)
    backend = make_url(database_url).get_backend_name()
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(
        f"customers: {customers}  requests: {requests} per kind  backend: {backend}"
        f"  load average: {load}"
    )
    for kind, server, per_request, answers, baseline in results:
        found = sum(a["customers"]["totalCount"] for a in answers) / requests
        statements = statistics.mean(len(s) for s in per_request)
        print(f"\n{kind} search: {statements:.1f} statements per request, {found:.2f} matches")
        if found < 1:
            print("  (no match: this build does not find customers by card number yet)")
        print_timings([("server (GraphQL over ASGI)", server), ("raw driver, same SQL", baseline)])
    if http:
        print_http(http)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--serve", action="store_true", help="then over HTTP (poscrm serve)")
    args = parser.parse_args()
    # uvloop, as `poscrm serve` runs (DESIGN.md §6).
    uvloop.run(run(args.customers, args.requests, args.serve))


if __name__ == "__main__":
    main()
