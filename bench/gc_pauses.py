"""Where the garbage collector's pauses go: sales and phone searches with ``gc.freeze()`` on
(as the app runs) and off, in the same run.

Usage: ``.venv/bin/python bench/gc_pauses.py [--sales N --searches N --blocks N]``
(default 300 sales and 1,000 phone searches per mode, in 2 blocks per mode); with
``POSCRM_DATABASE_URL=postgresql+asyncpg://…`` on PostgreSQL (see ``_common.py``).

The app starts as ``poscrm serve`` starts it (its lifespan collects, then freezes every
start-up object: imports, the schema, the engine). Then blocks alternate: a block with
freeze on (``gc.collect(); gc.freeze()`` before it, what the lifespan does) and a block
with freeze off (``gc.unfreeze(); gc.collect()`` before it: the start-up objects are back
in the oldest generation, as without the lifespan's ``gc.freeze()``). Alternating blocks
put the machine's noise on both modes alike. Each block is sales (``saleCreate`` of 3
lines + ``saleComplete``, with a till's token, from ``sale_throughput.py``) and phone
searches (``customers(search: "(212) 555-0123", first: 20)``) through the whole ASGI app
in this process. A ``gc.callbacks`` hook times every collection by generation, only
inside the blocks. It prints, per mode: collections per generation, total and largest
pause per generation, the p99 of request times, pauses as a share of the wall time, and
what a full collection forced at the end of each block costs (a run this short may see
no automatic one with freeze off: it waits until the survivors reach 25% of the
long-lived objects).
"""

from __future__ import annotations

import argparse
import gc
import logging
import os
import random
import statistics
import time
from typing import Any

import httpx
import uvloop
from _common import make_token, percentile, running_app, scratch_database, temp_dir
from sale_throughput import CUSTOMERS, one_sale, post, seed
from sqlalchemy.engine import make_url

from app.domain.permissions import Permission

SEARCH = (
    "query($q: String!) { customers(search: $q, first: 20) "
    "{ totalCount edges { node { id name phone } } } }"
)
MODES = ("freeze on", "freeze off")


class Pauses:
    """Every collection's duration by generation, while ``active``."""

    def __init__(self) -> None:
        self.active: str | None = None
        self.by_mode: dict[str, dict[int, list[float]]] = {m: {0: [], 1: [], 2: []} for m in MODES}
        self._started = 0.0

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if self.active is None:
            return
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.by_mode[self.active][info["generation"]].append(
                time.perf_counter() - self._started
            )


async def run(sales: int, searches: int, blocks: int) -> None:
    tmp = temp_dir()
    pauses = Pauses()
    wall = dict.fromkeys(MODES, 0.0)
    requests: dict[str, list[float]] = {m: [] for m in MODES}
    frozen: dict[str, list[int]] = {m: [] for m in MODES}
    full: dict[str, list[float]] = {m: [] for m in MODES}
    async with scratch_database(tmp, "gc") as database_url, running_app(database_url, tmp) as app:
        tokens, customers = await seed(app, 0, tiers=False)
        # "No SMS credits" once per sale: the bench sends no messages.
        logging.disable(logging.CRITICAL)
        at_start = gc.get_freeze_count()
        search_token = await make_token(app, Permission.CUSTOMER_VIEW, Permission.CUSTOMER_VIEW_PII)
        transport = httpx.ASGITransport(app=app)
        till = httpx.AsyncClient(
            transport=transport,
            base_url="http://bench",
            headers={"Authorization": f"Bearer {tokens[0]}"},
        )
        searcher = httpx.AsyncClient(
            transport=transport,
            base_url="http://bench",
            headers={"Authorization": f"Bearer {search_token}"},
        )
        rng = random.Random(5)
        buyers = customers[0]

        async def block(n_sales: int, n_searches: int, into: list[float]) -> None:
            # Sales and searches interleaved, as a till sells and looks people up.
            per_sale = max(1, n_searches // max(1, n_sales))
            done_searches = 0
            for i in range(n_sales):
                into.append(await one_sale(till, buyers[i % len(buyers)], rng))
                for _ in range(per_sale):
                    if done_searches < n_searches:
                        into.append(await search(done_searches))
                        done_searches += 1
            while done_searches < n_searches:
                into.append(await search(done_searches))
                done_searches += 1

        async def search(i: int) -> float:
            n = rng.randrange(CUSTOMERS)
            started = time.perf_counter()
            data = await post(searcher, SEARCH, {"q": f"(212) 555-{n:04d}"})
            if data["customers"]["totalCount"] != 1:
                raise RuntimeError(data)
            return time.perf_counter() - started

        await block(30, 100, [])  # warm-up: caches, connections, statement caches
        gc.callbacks.append(pauses)
        try:
            for b in range(2 * blocks):
                mode = MODES[b % 2]
                if mode == "freeze on":
                    gc.collect()
                    gc.freeze()
                else:
                    # Unfreeze first: the collection then counts the start-up objects as
                    # long-lived, as in an app that never froze them (a full collection
                    # waits until the survivors since the last one reach 25% of those).
                    gc.unfreeze()
                    gc.collect()
                frozen[mode].append(gc.get_freeze_count())
                pauses.active = mode
                started = time.perf_counter()
                await block(sales // blocks, searches // blocks, requests[mode])
                wall[mode] += time.perf_counter() - started
                pauses.active = None
                # What the next full collection would cost now, with the block's survivors.
                started = time.perf_counter()
                gc.collect()
                full[mode].append(time.perf_counter() - started)
        finally:
            gc.callbacks.remove(pauses)
            gc.collect()
            gc.freeze()
            await till.aclose()
            await searcher.aclose()
    backend = make_url(database_url).get_backend_name()
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(
        f"backend {backend}; per mode {sales} sales + {searches} phone searches in {blocks}"
        f" blocks; load average {load}"
    )
    print(
        f"objects frozen at start-up (the lifespan's gc.freeze()): {at_start};"
        f" thresholds {gc.get_threshold()}"
    )
    for mode in MODES:
        by_gen = pauses.by_mode[mode]
        total = sum(sum(v) for v in by_gen.values())
        print(
            f"\n{mode}: objects frozen during blocks ~{statistics.median(frozen[mode]):.0f};"
            f" wall {wall[mode]:.2f} s; request p50"
            f" {statistics.median(requests[mode]) * 1000:.2f} ms,"
            f" p99 {percentile(requests[mode], 0.99) * 1000:.2f} ms"
        )
        for gen, values in by_gen.items():
            if values:
                ms = [v * 1000 for v in values]
                print(
                    f"  gen {gen}: {len(ms):5d} collections, total {sum(ms):8.2f} ms,"
                    f" max {max(ms):7.2f} ms, mean {statistics.mean(ms):6.3f} ms"
                )
            else:
                print(f"  gen {gen}:     0 collections")
        share = 100 * total / wall[mode]
        print(f"  all: total pause {total * 1000:.1f} ms = {share:.2f}% of wall time")
        print(
            f"  a forced full collection (gc.collect()) after each block: median"
            f" {statistics.median(full[mode]) * 1000:.2f} ms, max {max(full[mode]) * 1000:.2f} ms"
        )
    on = pauses.by_mode["freeze on"]
    off = pauses.by_mode["freeze off"]
    on_total = sum(sum(v) for v in on.values())
    off_total = sum(sum(v) for v in off.values())
    if on_total:
        print(f"\ntotal pause off/on: {off_total / on_total:.1f}x")
    if on[2] and off[2]:
        print(f"largest gen-2 pause off/on: {max(off[2]) / max(on[2]):.1f}x")
    print(
        "forced full collection off/on:"
        f" {statistics.median(full['freeze off']) / statistics.median(full['freeze on']):.1f}x"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sales", type=int, default=300)
    parser.add_argument("--searches", type=int, default=1000)
    # Few, long blocks: a full (gen-2) collection comes after 10 gen-1 collections at the
    # earliest, and the collection before each block restarts that count.
    parser.add_argument("--blocks", type=int, default=2)
    args = parser.parse_args()
    uvloop.run(run(args.sales, args.searches, args.blocks))


if __name__ == "__main__":
    main()
