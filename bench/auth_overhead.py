"""What a bearer token and a phone search's settings cost over real HTTP against ``poscrm serve``.

Usage: ``.venv/bin/python bench/auth_overhead.py [--requests N]`` (default 1,000 of each).
Only 127.0.0.1. The server runs as ``poscrm serve`` does, in a subprocess (uvicorn, one
process, the embedded Redis), on a SQLite file in a temporary folder; with
``POSCRM_DATABASE_URL=postgresql+asyncpg://…`` on a throwaway database of its own there
(created, migrated, dropped).

One client on a keep-alive connection (as a till holds one) sends, interleaved so the
machine's noise falls on every series alike:
- anonymous ``{ __typename }``: HTTP, GraphQL and nothing else;
- the same with an administrator's bearer token: plus resolving the token;
- ``customers(search: "<a phone number>", first: 20)`` with the token: plus the phone
  region (business settings) and the search.
It prints each series' median and p99 and the authenticated median over the anonymous one
(issue 12's target: at most 1.3x) for two servers on the same database, measured in the
same rounds: one with the caches of grants and settings off
(``POSCRM_CACHE_MAX_AGE_SECONDS=0``: every request reads the token and the settings from
the database, as before issue 12), one with them on (the default).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from _common import free_port, percentile, scratch_database, wait_until_up
from sqlalchemy.engine import make_url

POSCRM = Path(sys.executable).parent / "poscrm"
TYPENAME = {"query": "{ __typename }"}
SEARCH = {"query": '{ customers(search: "+15551230000", first: 20) { totalCount } }'}
ADMIN, PASSWORD = "bench-admin", "bench-password-1"


def _serve(port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(  # noqa: S603 (our own command line)
        [str(POSCRM), "serve", "--host", "127.0.0.1", "--port", str(port), "--no-worker"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=None,  # start-up failures show
    )


LABELS = ("anonymous", "bearer token", "phone search")
CONFIGS = ("caches off", "caches on")


async def _login(client: httpx.AsyncClient) -> dict[str, str]:
    login = await client.post(
        "/graphql",
        json={
            "query": "mutation($u: String!, $p: String!) { login(username: $u, password: $p)"
            " { token errors { code } } }",
            "variables": {"u": ADMIN, "p": PASSWORD},
        },
    )
    token = login.json()["data"]["login"]["token"]
    assert token, login.text
    return {"authorization": f"Bearer {token}"}


async def _measure(ports: dict[str, int], requests: int) -> dict[str, dict[str, list[float]]]:
    """Each round sends every request to both servers, so load changes fall on both alike."""
    series: dict[str, dict[str, list[float]]] = {c: {x: [] for x in LABELS} for c in CONFIGS}
    clients = {
        config: httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30)
        for config, port in ports.items()
    }
    try:
        auth = {config: await _login(client) for config, client in clients.items()}
        for round_ in range(requests + 50):
            for config, client in clients.items():
                bodies = (TYPENAME, TYPENAME, SEARCH)
                headers_of: tuple[dict[str, str], ...] = ({}, auth[config], auth[config])
                for label, body, headers in zip(LABELS, bodies, headers_of, strict=True):
                    started = time.perf_counter()
                    response = await client.post("/graphql", json=body, headers=headers)
                    elapsed = time.perf_counter() - started
                    assert "errors" not in response.json(), response.text
                    if round_ >= 50:  # the first are warm-up (caches, connections)
                        series[config][label].append(elapsed)
    finally:
        for client in clients.values():
            await client.aclose()
    return series


async def _run(requests: int) -> tuple[str, dict[str, dict[str, list[float]]]]:
    """Two servers on one database, each with a data folder (and embedded Redis) of its own:
    one with the caches off (every request reads the token and settings, as before issue
    12), one with them on (the default)."""
    with tempfile.TemporaryDirectory() as data_dir:
        async with scratch_database(Path(data_dir), "auth") as database_url:
            processes: list[subprocess.Popen[bytes]] = []
            ports: dict[str, int] = {}
            try:
                for config in CONFIGS:
                    folder = Path(data_dir) / config.replace(" ", "-")
                    folder.mkdir(mode=0o700)
                    env = {
                        **os.environ,
                        "POSCRM_DATA_DIR": str(folder),
                        "POSCRM_DATABASE_URL": database_url,
                        # One access line per request would be the bench.
                        "POSCRM_LOG_LEVEL": "WARNING",
                    }
                    if config == "caches off":
                        env["POSCRM_CACHE_MAX_AGE_SECONDS"] = "0"
                    if not processes:
                        admin = ["create-admin", "--username", ADMIN, "--password", PASSWORD]
                        await asyncio.to_thread(
                            subprocess.run,
                            [str(POSCRM), *admin],
                            env=env,
                            check=True,
                            capture_output=True,
                        )
                    ports[config] = free_port()
                    process = await asyncio.to_thread(_serve, ports[config], env)
                    processes.append(process)
                    await asyncio.to_thread(wait_until_up, ports[config], process)
                series = await _measure(ports, requests)
            finally:
                for process in processes:
                    process.terminate()
                    await asyncio.to_thread(process.wait, 30)
            return make_url(database_url).get_backend_name(), series


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=1000)
    args = parser.parse_args()
    backend, series = asyncio.run(_run(args.requests))
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"backend {backend}, {args.requests} rounds, load average {load}")
    for config in CONFIGS:
        print(config)
        for label, values in series[config].items():
            print(
                f"  {label:14s} median {statistics.median(values) * 1000:7.3f} ms"
                f"   p99 {percentile(values, 0.99) * 1000:7.3f} ms"
            )
        anonymous = statistics.median(series[config]["anonymous"])
        for label in LABELS[1:]:
            ratio = statistics.median(series[config][label]) / anonymous
            print(f"  {label} / anonymous (median): {ratio:.2f}x")


if __name__ == "__main__":
    main()
