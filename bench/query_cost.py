"""The query cost limit: the heaviest query it lets through against the one it refuses.

Usage: ``.venv/bin/python bench/query_cost.py [--groups N --requests N]``.
With ``POSCRM_DATABASE_URL=postgresql+asyncpg://…`` it runs on PostgreSQL (a database of
its own, created and dropped); otherwise on a SQLite file in a temporary folder.

Data: ``poscrm seed-demo``'s shop (300 customers, sales, two groups), plus ``--groups``
groups (default 10) that every customer belongs to, so the lists the cost counts are
full: a customer is in 10 to 11 groups, the reckoning counts 10, and each group has 300
members. Timed through the whole ASGI app in-process (uvloop, as ``poscrm serve`` runs):

- baseline: ``{ me { id } }``, the HTTP, token and GraphQL floor;
- heaviest allowed: the issue's shape, ``customers(first: 100) { groups { members(first:
  M) … } }``, with the largest M whose cost fits the budget, alone and then with a
  trivial query sent over and over while it runs (how long other callers wait);
- refused: the issue's query (members' groups too, M = 100) and 20 aliases of a full
  100-customer list page, which must be refused in under 50 ms, also when each request
  is a new text (a comment appended), so that no parse, validation or cost cache helps;
- the reckoning itself, uncached and from the cache.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import statistics
import time
from typing import Any

import httpx
import uvloop
from _common import make_token, percentile, running_app, scratch_database, temp_dir
from graphql import parse
from sqlalchemy import event, select

from app.db.models import Customer
from app.demo import seed_demo
from app.domain.permissions import Permission
from app.schema.cost import CostCache, introspection_cost, operation_cost
from app.schema.schema import build_schema
from app.services.groups import GroupService
from app.settings import Settings

TRIVIAL = "{ me { id } }"
ALLOWED = """query($m: Int!) { customers(first: 100) { edges { node { id name
  groups { name members(first: $m) { totalCount edges { node { id name } } } } } } } }"""
ATTACK = """{ customers(first: 100) { edges { node { name groups { name
  members(first: 100) { edges { node { name groups { name } } } } } } } } }"""
LIST_PAGE = """customers(first: 100) { totalCount pageInfo { hasNextPage endCursor }
  edges { cursor node { id name phone email customerCode status version
    groups { id name discountPercent } loyaltyCard { cardNumber discountPercent }
    marketingConsent { email { state } sms { state } } } } }"""
ALIASES = "{ " + " ".join(f"a{n}: {LIST_PAGE}" for n in range(20)) + " }"


async def seed(app: Any, groups: int) -> None:
    """Every customer of the demo shop in ``groups`` more groups."""
    runtime = app.state.runtime
    async with runtime.db.read() as session:
        customers = list(await session.scalars(select(Customer.id)))
    service = GroupService(runtime.tx, None)
    for n in range(groups):
        group = (await service.create(f"Bench group {n:02d}", None, None)).value
        assert group is not None
        await service.change_members(group.id, customers, add=True)


def largest_allowed(schema: Any, limit: int) -> tuple[int, int]:
    """The largest members(first: M) whose cost fits ``limit``, and that cost."""
    document, introspection = parse(ALLOWED), introspection_cost(schema)
    best = (0, 0)
    for m in range(101):
        found = operation_cost(schema, document, None, {"m": m}, introspection) or 0
        if found <= limit:
            best = (m, found)
    return best


async def timed(
    client: httpx.AsyncClient, query: str, variables: dict[str, Any], expect_refusal: bool
) -> float:
    started = time.perf_counter()
    response = await client.post("/graphql", json={"query": query, "variables": variables})
    elapsed = time.perf_counter() - started
    body = response.json()
    codes = [e.get("extensions", {}).get("code") for e in body.get("errors", [])]
    if expect_refusal != (codes == ["QUERY_TOO_COMPLEX"]):
        raise RuntimeError(f"unexpected answer: {str(body)[:300]}")
    return elapsed


async def trivial_during(client: httpx.AsyncClient, heavy: Any) -> list[float]:
    """A trivial query's round trips, one after another, while ``heavy`` runs."""
    task = asyncio.ensure_future(heavy)
    waits: list[float] = []
    while not task.done():
        waits.append(await timed(client, TRIVIAL, {}, expect_refusal=False))
    await task
    return waits


class CollectorPauses:
    """The garbage collector's pauses while a series runs: what its p99 is made of."""

    def __init__(self) -> None:
        self.pauses: list[tuple[int, float]] = []
        self._started = 0.0

    def _note(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.pauses.append((info["generation"], time.perf_counter() - self._started))

    def __enter__(self) -> CollectorPauses:
        gc.callbacks.append(self._note)
        return self

    def __exit__(self, *_: object) -> None:
        gc.callbacks.remove(self._note)

    def summary(self) -> str:
        full = sorted((t for g, t in self.pauses if g == 2), reverse=True)
        longest = ", ".join(f"{t * 1000:.0f}" for t in full[:4])
        return f"{len(full)} full collections (longest {longest or '-'} ms)"


def reckoning_times(schema: Any, repeats: int = 2000) -> dict[str, float]:
    """The cost of computing a cost, in µs: uncached (the walk) and a cache hit."""
    introspection = introspection_cost(schema)
    figures = {}
    for label, query, variables in (
        ("allowed", ALLOWED, {"m": 5}),
        ("issue query", ATTACK, {}),
        ("20 aliases", ALIASES, {}),
    ):
        document = parse(query)
        started = time.perf_counter()
        for _ in range(repeats):
            operation_cost(schema, document, None, variables, introspection)
        figures[f"{label}, uncached"] = (time.perf_counter() - started) / repeats * 1e6
        cache = CostCache()
        cache.cost(schema, query, document, None, variables)
        started = time.perf_counter()
        for _ in range(repeats):
            cache.cost(schema, query, document, None, variables)
        figures[f"{label}, cached"] = (time.perf_counter() - started) / repeats * 1e6
    return figures


def line(label: str, values: list[float], baseline: float) -> None:
    median, p99 = statistics.median(values), percentile(values, 0.99)
    print(
        f"{label:46s} median {median * 1000:8.2f} ms   p99 {p99 * 1000:8.2f} ms"
        f"   {median / baseline:7.1f}x baseline"
    )


async def heaviest_allowed(
    app: Any, client: httpx.AsyncClient, m: int, runs: int
) -> tuple[list[float], list[float], int, int]:
    """Its times, a trivial query's waits while it runs, its members and statements."""
    statements: list[str] = []
    engine = app.state.runtime.db.engine.sync_engine

    def count(_c: Any, _cur: Any, statement: str, *_: Any) -> None:
        if not statement.startswith(("BEGIN", "PRAGMA", "COMMIT", "ROLLBACK")):
            statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    sample = await client.post("/graphql", json={"query": ALLOWED, "variables": {"m": m}})
    event.remove(engine, "before_cursor_execute", count)
    members = sum(
        len(group["members"]["edges"])
        for edge in sample.json()["data"]["customers"]["edges"]
        for group in edge["node"]["groups"]
    )
    times = [await timed(client, ALLOWED, {"m": m}, False) for _ in range(runs)]
    waits = await trivial_during(client, timed(client, ALLOWED, {"m": m}, False))
    return times, waits, members, len(statements)


async def refusals(
    client: httpx.AsyncClient, requests: int
) -> tuple[dict[str, list[float]], CollectorPauses]:
    series: dict[str, list[float]] = {"issue": [], "aliases": [], "new text": []}
    with CollectorPauses() as collector:
        for n in range(requests + 5):
            series["issue"].append(await timed(client, ATTACK, {}, True))
            series["aliases"].append(await timed(client, ALIASES, {}, True))
            # A new text each time: no parse, validation or cost cache helps.
            series["new text"].append(await timed(client, f"{ALIASES} # {n}", {}, True))
    return {k: v[5:] for k, v in series.items()}, collector  # the first 5: caches filling


async def run(groups: int, requests: int) -> None:
    tmp = temp_dir()
    async with scratch_database(tmp, "cost") as database_url:
        await seed_demo(Settings(data_dir=tmp, database_url=database_url))
        async with running_app(database_url, tmp) as app:
            settings = app.state.runtime.settings
            await seed(app, groups)
            schema = build_schema(settings)._schema
            m, allowed_cost = largest_allowed(schema, settings.max_query_cost)
            token = await make_token(app, Permission.CUSTOMER_VIEW)
            async with httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app),
                base_url="http://bench",
                headers={"Authorization": f"Bearer {token}"},
            ) as client:
                for _ in range(20):  # caches, connections, the OS page cache
                    await timed(client, TRIVIAL, {}, False)
                baseline = [await timed(client, TRIVIAL, {}, False) for _ in range(requests)]
                allowed, waits, members, statements = await heaviest_allowed(
                    app, client, m, max(5, requests // 20)
                )
                refused, collector = await refusals(client, requests)

    introspection = introspection_cost(schema)
    attack_cost = operation_cost(schema, parse(ATTACK), None, {}, introspection)
    alias_cost = operation_cost(schema, parse(ALIASES), None, {}, introspection)
    print(f"budget {settings.max_query_cost:,}; demo shop + {groups} groups of every customer")
    print(
        f"heaviest allowed: members(first: {m}), cost {allowed_cost:,}; answer holds"
        f" {members:,} members in {statements} statements"
    )
    print(f"refused: the issue's query, cost {attack_cost:,}; 20 aliases, cost {alias_cost:,}")
    base = statistics.median(baseline)
    line("baseline { me { id } }", baseline, base)
    line(f"heaviest allowed (M = {m})", allowed, base)
    line("{ me } while the heaviest allowed runs", waits, base)
    line("refused: the issue's query", refused["issue"], base)
    line("refused: 20 aliases of a list page", refused["aliases"], base)
    line("refused: 20 aliases, a new text each time", refused["new text"], base)
    for label, values in refused.items():
        median = statistics.median(values)
        verdict = "under" if median < 0.05 else "OVER"
        print(f"refusal ({label}): median {median * 1000:.2f} ms, {verdict} 50 ms")
    print(f"while refusing: {collector.summary()}")
    for label, micros in reckoning_times(schema).items():
        print(f"reckoning, {label:28s} {micros:8.1f} µs")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--groups", type=int, default=10)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    # uvloop, as `poscrm serve` runs (DESIGN.md §6).
    uvloop.run(run(args.groups, args.requests))


if __name__ == "__main__":
    main()
