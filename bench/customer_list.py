"""A page of 100 customers with their groups and loyalty card, against graphql-core
executing the same answer from memory.

Usage: ``.venv/bin/python bench/customer_list.py [--customers N --requests N --serve]``
(default 2,000 customers, 500 requests); with ``POSCRM_DATABASE_URL=postgresql+asyncpg://…``
on PostgreSQL (see ``_common.py``).

The table is filled with bulk SQL: a third of the customers in one of three groups, half
with an active card. Then, in rounds (so the machine's noise falls on every series
alike), ``customers(first: 100) { edges { node { id name phone groups { name }
loyaltyCard { cardNumber discountPercent } } } }``:
- through the whole ASGI app in this process, with a token that sees phone numbers
  (``CUSTOMER_VIEW_PII``) and with one that sees them masked;
- graphql-core (``graphql.graphql``: parse, validate, execute; awaited, as Strawberry
  runs it) on a schema of the same shape built with ``build_schema``, resolving from
  Python dicts already in memory: the very 100 rows the app answered, with ``Decimal``
  discounts serialised as Strawberry does (``str``); bare, and behind a minimal
  Starlette endpoint over the same ASGI transport (request JSON in, response JSON out),
  so the HTTP layer is in both.
Issue 12's target: the app at most 1.3x graphql-core from memory.

``--serve`` then does the same over real HTTP, one keep-alive client: a ``poscrm serve
--no-worker`` on the same database (a data folder of its own, ``POSCRM_LOG_LEVEL=WARNING``)
against the minimal endpoint under plain uvicorn (uvloop, httptools) in a process of its
own, serving the dicts.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import graphql
import httpx
import uvloop
from _common import (
    free_port,
    make_token,
    percentile,
    replay,
    running_app,
    scratch_database,
    served,
    temp_dir,
    time_graphql,
)
from sqlalchemy import insert
from sqlalchemy.engine import make_url
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from app.db.models import Customer, CustomerGroup, CustomerGroupMember, LoyaltyCard
from app.domain.permissions import Permission

QUERY = (
    "{ customers(first: 100) { edges { node { id name phone groups { name }"
    " loyaltyCard { cardNumber discountPercent } } } } }"
)
SDL = """
scalar Decimal
type Query { customers(first: Int! = 20): CustomerConnection! }
type CustomerConnection { edges: [CustomerEdge!]! }
type CustomerEdge { node: Customer! }
type Customer {
  id: ID!
  name: String!
  phone: String!
  groups: [CustomerGroup!]!
  loyaltyCard: LoyaltyCard
}
type CustomerGroup { name: String! }
type LoyaltyCard { cardNumber: String! discountPercent: Decimal! }
"""
WARM_UP = 30


async def fill(app: Any, customers: int) -> None:
    db = app.state.runtime.db
    rng = random.Random(7)
    now = datetime.now(UTC)
    groups = [
        {"id": uuid.uuid4(), "name": n, "name_key": n.lower(), "discount_percent": Decimal(d)}
        for n, d in (("Gold", "10"), ("Silver", "5"), ("Staff", "20"))
    ]
    people, members, cards = [], [], []
    for n in range(customers):
        name = f"Customer {rng.randrange(10**6):06d}"
        customer_id = uuid.uuid4()
        people.append(
            {
                "id": customer_id,
                "name": name,
                "name_key": name.lower(),
                "phone": f"+1212{555 + n // 10_000}{n % 10_000:04d}",
                "status": "ACTIVE",
                "version": 1,
                "created_at": now,
                "updated_at": now,
            }
        )
        if n % 3 == 0:
            members.append({"group_id": groups[n // 3 % 3]["id"], "customer_id": customer_id})
        if n % 2 == 0:
            cards.append(
                {
                    "id": uuid.uuid4(),
                    "customer_id": customer_id,
                    "card_number": f"99{n:011d}",
                    "discount_percent": Decimal("2.5"),
                    "status": "ACTIVE",
                    "issued_at": now,
                    "issued_by": "bench",
                }
            )
    async with db.write() as session:
        await session.execute(insert(CustomerGroup.__table__), groups)
        await session.execute(insert(Customer.__table__), people)
        await session.execute(insert(CustomerGroupMember.__table__), members)
        await session.execute(insert(LoyaltyCard.__table__), cards)


# -- the baseline: graphql-core from memory ------------------------------------------------


def baseline_schema() -> graphql.GraphQLSchema:
    schema = graphql.build_schema(SDL)
    decimal = schema.type_map["Decimal"]
    assert isinstance(decimal, graphql.GraphQLScalarType)
    # As Strawberry's Decimal (graphql-core 3.3 reads coerce_output_value).
    decimal.serialize = decimal.coerce_output_value = str  # type: ignore[method-assign]
    return schema


def root_of(answer: dict[str, Any]) -> dict[str, Any]:
    """The app's answer as the Python values a resolver holds: dicts, Decimal discounts."""
    edges = []
    for edge in answer["customers"]["edges"]:
        node = dict(edge["node"])
        card = node["loyaltyCard"]
        if card is not None:
            node["loyaltyCard"] = {**card, "discountPercent": Decimal(card["discountPercent"])}
        node["groups"] = [dict(g) for g in node["groups"]]
        edges.append({"node": node})
    return {"customers": {"edges": edges}}


def baseline_app(root: dict[str, Any]) -> Starlette:
    """The least a GraphQL endpoint does: JSON in, graphql-core, JSON out."""
    schema = baseline_schema()

    async def endpoint(request: Request) -> Response:
        body = await request.json()
        result = await graphql.graphql(schema, body["query"], root_value=root)
        return JSONResponse(result.formatted)

    return Starlette(routes=[Route("/graphql", endpoint, methods=["POST"])])


def serve_baseline(rows: str, port: int) -> None:
    """``--baseline-server``: the minimal endpoint under plain uvicorn."""
    import uvicorn

    root = root_of(json.loads(Path(rows).read_text()))
    uvicorn.run(
        baseline_app(root),
        host="127.0.0.1",
        port=port,
        loop="uvloop",
        http="httptools",
        log_level="warning",
        access_log=False,
    )


# -- measuring -----------------------------------------------------------------------------


async def timed_post(client: httpx.AsyncClient, headers: dict[str, str]) -> float:
    started = time.perf_counter()
    response = await client.post("/graphql", json={"query": QUERY}, headers=headers)
    elapsed = time.perf_counter() - started
    body = response.json()
    if "errors" in body or len(body["data"]["customers"]["edges"]) != 100:
        raise RuntimeError(response.text[:500])
    return elapsed


async def in_process(
    app: Any, pii: str, masked: str, root: dict[str, Any], requests: int
) -> dict[str, list[float]]:
    schema = baseline_schema()
    series: dict[str, list[float]] = {
        k: [] for k in ("app, PII", "app, masked", "graphql-core + Starlette", "graphql-core")
    }
    transport = httpx.ASGITransport(app=app)
    base_transport = httpx.ASGITransport(app=baseline_app(root))
    async with (
        httpx.AsyncClient(transport=transport, base_url="http://bench") as client,
        httpx.AsyncClient(transport=base_transport, base_url="http://bench") as base,
    ):
        for round_ in range(-WARM_UP, requests):
            times = [
                await timed_post(client, {"authorization": f"Bearer {pii}"}),
                await timed_post(client, {"authorization": f"Bearer {masked}"}),
                await timed_post(base, {}),
            ]
            started = time.perf_counter()
            result = await graphql.graphql(schema, QUERY, root_value=root)
            times.append(time.perf_counter() - started)
            if result.errors or not result.data:
                raise RuntimeError(result.errors)
            if round_ >= 0:
                for label, elapsed in zip(series, times, strict=True):
                    series[label].append(elapsed)
    return series


async def over_http(
    database_url: str, tmp: Path, pii: str, answer: dict[str, Any], requests: int
) -> dict[str, list[float]]:
    rows = tmp / "rows.json"
    rows.write_text(json.dumps(answer))
    base_port = free_port()
    baseline = await asyncio.to_thread(
        subprocess.Popen,
        [sys.executable, __file__, "--baseline-server", str(rows), "--port", str(base_port)],
        stdout=subprocess.DEVNULL,
    )
    series: dict[str, list[float]] = {"app, PII": [], "graphql-core + uvicorn": []}
    try:
        await asyncio.to_thread(_wait_for_baseline, base_port, baseline)
        async with (
            served(database_url, tmp / "serve") as app_port,
            httpx.AsyncClient(base_url=f"http://127.0.0.1:{app_port}", timeout=30) as client,
            httpx.AsyncClient(base_url=f"http://127.0.0.1:{base_port}", timeout=30) as base,
        ):
            for round_ in range(-WARM_UP, requests):
                times = [
                    await timed_post(client, {"authorization": f"Bearer {pii}"}),
                    await timed_post(base, {}),
                ]
                if round_ >= 0:
                    for label, elapsed in zip(series, times, strict=True):
                        series[label].append(elapsed)
    finally:
        baseline.terminate()
        await asyncio.to_thread(baseline.wait, 30)
    return series


def _wait_for_baseline(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit("the baseline server exited")
        try:
            httpx.post(f"http://127.0.0.1:{port}/graphql", json={"query": "{__typename}"})
            return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise SystemExit("the baseline server did not start")


def report(title: str, series: dict[str, list[float]], baselines: tuple[str, ...]) -> None:
    print(f"\n{title}")
    for label, values in series.items():
        print(
            f"  {label:26s} median {statistics.median(values) * 1000:7.3f} ms"
            f"   p99 {percentile(values, 0.99) * 1000:7.3f} ms"
        )
    for app_label in (k for k in series if k.startswith("app")):
        for base in baselines:
            m = statistics.median(series[app_label]) / statistics.median(series[base])
            p = percentile(series[app_label], 0.99) / percentile(series[base], 0.99)
            print(f"  {app_label} / {base}: median {m:.1f}x   p99 {p:.1f}x")


async def run(customers: int, requests: int, serve: bool) -> None:
    tmp = temp_dir()
    async with scratch_database(tmp, "list") as database_url:
        async with running_app(database_url, tmp) as app:
            await fill(app, customers)
            pii = await make_token(app, Permission.CUSTOMER_VIEW, Permission.CUSTOMER_VIEW_PII)
            masked = await make_token(app, Permission.CUSTOMER_VIEW)
            # One request first for the answer (the baseline's rows) and its statements.
            _, statements, answers = await time_graphql(app, pii, QUERY, [{}] * 20, warm_up=5)
            answer = answers[-1]
            raw = await replay(database_url, statements)
            edges = answer["customers"]["edges"]
            root = root_of(answer)
            local = await in_process(app, pii, masked, root, requests)
        http = await over_http(database_url, tmp, pii, answer, requests) if serve else {}
    backend = make_url(database_url).get_backend_name()
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    groups = sum(1 for e in edges if e["node"]["groups"])
    cards = sum(1 for e in edges if e["node"]["loyaltyCard"])
    print(
        f"backend {backend}; {customers} customers; {requests} rounds; load average {load}\n"
        f"the page: 100 customers, {groups} in a group, {cards} with a card;"
        f" {len(statements[-1])} SQL statements per request"
    )
    for sql, _ in statements[-1]:
        print(f"    {' '.join(sql.split())[:110]}")
    print(
        f"the same statements on the bare driver: median {statistics.median(raw) * 1000:.3f} ms"
        f" ({len(raw)} requests' worth)"
    )
    report("in-process (httpx ASGITransport)", local, ("graphql-core + Starlette", "graphql-core"))
    if http:
        report("over HTTP (one keep-alive client)", http, ("graphql-core + uvicorn",))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--serve", action="store_true", help="then over HTTP (poscrm serve)")
    parser.add_argument("--baseline-server", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.baseline_server:
        serve_baseline(args.baseline_server, args.port)
        return
    uvloop.run(run(args.customers, args.requests, args.serve))


if __name__ == "__main__":
    main()
