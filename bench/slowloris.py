"""Slowloris against a real ``poscrm serve``: are slow connections closed, and does a normal
client notice them?

Usage: ``.venv/bin/python bench/slowloris.py [--connections N --header-timeout S
--requests N]`` (default 1,000 connections, the default 10 s header timeout, 200 requests
per series). Only 127.0.0.1. The server runs as ``poscrm serve`` does, in a subprocess, on
a SQLite file in a temporary folder (``POSCRM_DATABASE_URL=postgresql+asyncpg://…``: on
that database, which must be migrated).

1. A normal client's ``{ __typename }`` on a keep-alive connection: median and p99 alone.
2. ``--connections`` clients each open a connection and send a request line, then one
   header line every 2 s, never finishing the headers (the slowloris pattern).
3. The normal client's figures again while all of them are open.
4. How many slow connections the server closed, and after how long, within the header
   timeout plus 5 s.

``--no-header-timeout`` runs the same against a server whose header timeout is a day
(what plain uvicorn does: it has none) and counts over 15 s.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from _common import free_port, percentile, wait_until_up

POSCRM = Path(sys.executable).parent / "poscrm"
TYPENAME = {"query": "{ __typename }"}


def _raise_open_files(needed: int) -> int:
    """The soft limit on open files, raised towards the hard limit if needed (children inherit)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < needed:
        target = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        soft = target
    return soft


async def _normal_client(port: int, requests: int) -> list[float]:
    timings = []
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
        for _ in range(requests):
            started = time.perf_counter()
            response = await client.post("/graphql", json=TYPENAME)
            timings.append(time.perf_counter() - started)
            assert response.json()["data"] == {"__typename": "Query"}, response.text
            await asyncio.sleep(0.005)
    return timings


class SlowClient:
    def __init__(self, connected: asyncio.Queue[None]) -> None:
        self.connected = connected
        self.opened = 0.0
        self.closed_after: float | None = None

    async def run(self, port: int, stop: asyncio.Event) -> None:
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            return
        finally:
            self.connected.put_nowait(None)
        self.opened = time.monotonic()
        try:
            writer.write(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            while not stop.is_set():
                # Wait for the server to close (or answer 408), sending a header line
                # every 2 s meanwhile.
                try:
                    data = await asyncio.wait_for(reader.read(4096), 2)
                except TimeoutError:
                    writer.write(b"X-Slow: 1\r\n")
                    continue
                if not data or data.startswith(b"HTTP/1.1 408"):
                    self.closed_after = time.monotonic() - self.opened
                    return
        except (ConnectionError, OSError):
            self.closed_after = time.monotonic() - self.opened
        finally:
            writer.close()


def _series(label: str, values: list[float]) -> str:
    return (
        f"{label:36s} median {statistics.median(values) * 1000:7.2f} ms"
        f"   p99 {percentile(values, 0.99) * 1000:7.2f} ms"
    )


async def _attack(args: argparse.Namespace, port: int) -> None:
    alone = await _normal_client(port, args.requests)
    print(_series("normal client, alone", alone))

    stop = asyncio.Event()
    connected: asyncio.Queue[None] = asyncio.Queue()
    slow = [SlowClient(connected) for _ in range(args.connections)]
    started = time.monotonic()
    tasks = []
    for client in slow:
        tasks.append(asyncio.create_task(client.run(port, stop)))
        await asyncio.sleep(0)  # let each connect before the next
    for _ in slow:
        await connected.get()  # connected, or failed to
    opened = sum(1 for c in slow if c.opened)
    print(f"slow connections opened: {opened} in {time.monotonic() - started:.2f} s")

    during = await _normal_client(port, args.requests)
    still_open = sum(1 for c in slow if c.opened and c.closed_after is None)
    print(_series("normal client, slow ones open", during))
    print(f"  ({still_open} slow connections were still open when it finished)")
    print(f"ratio during/alone: median {statistics.median(during) / statistics.median(alone):.2f}x")

    # A task ends when the server closes its connection.
    await asyncio.wait(tasks, timeout=max(0.0, started + args.wait - time.monotonic()))
    stop.set()
    await asyncio.gather(*tasks)
    closed = sorted(c.closed_after for c in slow if c.closed_after is not None)
    print(
        f"slow connections closed by the server within {args.wait:g} s: {len(closed)} of {opened}"
    )
    if closed:
        print(
            f"  closed after: min {closed[0]:.2f} s, median {statistics.median(closed):.2f} s,"
            f" max {closed[-1]:.2f} s (header timeout {args.header_timeout:g} s)"
        )
    after = await _normal_client(port, args.requests)
    print(_series("normal client, after", after))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--connections", type=int, default=1000)
    parser.add_argument("--header-timeout", type=float, default=10.0)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--no-header-timeout", action="store_true")
    args = parser.parse_args()
    args.wait = 15.0 if args.no_header_timeout else args.header_timeout + 5
    if args.no_header_timeout:
        args.header_timeout = 86400.0

    limit = _raise_open_files(2 * args.connections + 512)
    print(
        f"open-file limit {limit}; {args.connections} slow connections;"
        f" header timeout {args.header_timeout:g} s"
    )
    with tempfile.TemporaryDirectory(prefix="poscrm-slowloris-") as data_dir:
        env = {
            **os.environ,
            "POSCRM_DATA_DIR": data_dir,
            "POSCRM_HEADER_TIMEOUT_SECONDS": str(args.header_timeout),
            "POSCRM_LOG_LEVEL": "WARNING",  # one access line per request would be the bench
        }
        subprocess.run([str(POSCRM), "migrate"], env=env, check=True, capture_output=True)  # noqa: S603
        port = free_port()
        log = Path(data_dir) / "serve.log"
        with log.open("w") as out:
            process = subprocess.Popen(  # noqa: S603 (our own command line)
                [str(POSCRM), "serve", "--host", "127.0.0.1", "--port", str(port), "--no-worker"],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        try:
            wait_until_up(port, process)
            asyncio.run(_attack(args, port))
        finally:
            process.terminate()
            process.wait(30)
        errors = [line for line in log.read_text().splitlines() if '"level": "ERROR"' in line]
        print(f"server log: {len(errors)} ERROR lines")


if __name__ == "__main__":
    main()
