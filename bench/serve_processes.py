"""Read throughput of ``poscrm serve --workers N`` for N = 1, 2, 4 (issue 12, scale out).

Usage: ``.venv/bin/python bench/serve_processes.py [--processes 1,2,4 --connections 16
--seconds 10 --customers 20000]``; needs ``wrk`` (Debian: ``apt-get install wrk``), the
load generator, written in C so that the client costs the two cores little. With
``POSCRM_DATABASE_URL=postgresql+asyncpg://…`` on PostgreSQL (a database of its own,
created and dropped), with ``POSCRM_REDIS_URL`` on that Redis (else the embedded one), as
a chain runs: several API processes on one database and one Redis. Only 127.0.0.1.

For each N, a real ``poscrm serve --workers N --no-worker`` on one port; wrk holds
``--connections`` keep-alive connections, as a chain's tills do, each sending a till's
phone lookup (``customers(search: phone, first: 20)`` with a bearer token) as fast as
answers come back. Printed: requests per second, median and p99 latency, and the ratio to
one process measured in the same run. On a 2-core machine two processes are the ceiling
(wrk and the database take their share of the same cores): the figure to read is how
close 2 gets to 2x, and that 4 does not fall below 2.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from _common import free_port, make_token, running_app, scratch_database, temp_dir
from sqlalchemy import insert

from app.db.base import table_of
from app.db.models import Customer
from app.domain.permissions import Permission

POSCRM = Path(sys.executable).parent / "poscrm"
QUERY = (
    "query($q: String!) { customers(search: $q, first: 20) "
    "{ totalCount edges { node { id name phone } } } }"
)
WRK_SCRIPT = """
wrk.method = "POST"
wrk.body = {body}
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer {token}"
"""


async def _seed(tmp: Path, database_url: str, customers: int) -> str:
    """Customers with phones, written in bulk, and a token that may look them up."""
    async with running_app(database_url, tmp) as app:
        now = datetime.now(UTC)
        rows = [
            {
                "id": uuid.uuid4(),
                "name": f"Customer {n:06d}",
                "name_key": f"customer {n:06d}",
                "phone": f"+1201555{n:04d}" if n < 10_000 else f"+1202{n:07d}",
                "status": "ACTIVE",
                "version": 1,
                "created_at": now,
                "updated_at": now,
            }
            for n in range(customers)
        ]
        async with app.state.runtime.db.write() as session:
            for start in range(0, len(rows), 10_000):
                await session.execute(insert(table_of(Customer)), rows[start : start + 10_000])
        return await make_token(app, Permission.CUSTOMER_VIEW, Permission.CUSTOMER_VIEW_PII)


def _up(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"poscrm serve exited:\n{log.read_text()[-3000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as probe:
                probe.sendall(b"GET /healthz HTTP/1.1\r\nHost: b\r\n\r\n")
                if probe.recv(100).startswith(b"HTTP/1.1 200"):
                    return
        except OSError:
            pass
        time.sleep(0.3)
    raise SystemExit("poscrm serve did not start")


def _wrk(port: int, script: Path, connections: int, seconds: int) -> dict[str, float]:
    wrk = shutil.which("wrk")
    assert wrk is not None
    out = subprocess.run(  # noqa: S603 (a fixed command line)
        [
            wrk,
            "-t2",
            f"-c{connections}",
            f"-d{seconds}s",
            "--latency",
            "-s",
            str(script),
            f"http://127.0.0.1:{port}/graphql",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    figures = {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out)[1])}  # type: ignore[index]
    for label, key in (("50%", "p50"), ("99%", "p99")):
        value, unit = re.search(rf"{label}\s+([\d.]+)(us|ms|s)", out).groups()  # type: ignore[union-attr]
        figures[key] = float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors:
        raise SystemExit(f"{errors[1]} failed requests:\n{out}")
    return figures


def _measure(
    tmp: Path, env: dict[str, str], processes: int, script: Path, args: argparse.Namespace
) -> dict[str, float]:
    port = free_port()
    log = tmp / f"serve-{processes}.log"
    with log.open("w") as out:
        process = subprocess.Popen(  # noqa: S603 (our own command line)
            [str(POSCRM), "serve", "--port", str(port), "--workers", str(processes), "--no-worker"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        _up(port, process, log)
        _wrk(port, script, args.connections, 3)  # every process warm: imports, pools, plans
        return _wrk(port, script, args.connections, args.seconds)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(60)


def _report(results: dict[int, dict[str, float]], first: int) -> None:
    one = results[first]["rps"]
    print(f"{'processes':>9} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'ratio':>6}")
    for n, r in results.items():
        print(f"{n:>9} {r['rps']:>9.0f} {r['p50']:>8.2f} {r['p99']:>8.2f} {r['rps'] / one:>6.2f}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--processes", default="1,2,4")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--customers", type=int, default=20_000)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("needs wrk (Debian: apt-get install wrk)")
    counts = [int(n) for n in args.processes.split(",")]
    tmp = temp_dir()

    async def seeded() -> None:
        async with scratch_database(tmp, "processes") as database_url:
            token = await _seed(tmp, database_url, args.customers)
            body = json.dumps({"query": QUERY, "variables": {"q": "(201) 555-0042"}})
            script = tmp / "lookup.lua"
            script.write_text(WRK_SCRIPT.format(body=json.dumps(body), token=token))
            env = {
                **os.environ,
                "POSCRM_DATA_DIR": str(tmp),
                "POSCRM_DATABASE_URL": database_url,
                "POSCRM_REDIS_PREFIX": f"bench-{uuid.uuid4().hex[:8]}",
                "POSCRM_LOG_LEVEL": "WARNING",
            }
            backend = database_url.split(":", 1)[0]
            print(
                f"{backend}, {args.customers:,} customers, {args.connections} connections,"
                f" {args.seconds} s per series; load average {os.getloadavg()[0]:.1f}"
            )
            results = {}
            for n in counts:
                results[n] = await asyncio.to_thread(_measure, tmp, env, n, script, args)
            _report(results, counts[0])

    asyncio.run(seeded())


if __name__ == "__main__":
    main()
