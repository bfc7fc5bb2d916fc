"""What the benchmarks share: a throwaway database, the app on it, timings, the bare driver.

With ``POSCRM_DATABASE_URL=postgresql+asyncpg://…`` a bench runs on PostgreSQL in a
database of its own (created, then dropped); otherwise on a SQLite file in a temporary
folder. Baselines run on the bare driver (sqlite3 / asyncpg) in the same run, because
these machines are noisy: compare ratios, not absolute times, across runs.
"""

from __future__ import annotations

import asyncio
import os
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
from sqlalchemy import event
from sqlalchemy.engine import make_url

from app.db.migrate import upgrade
from app.domain.permissions import Permission
from app.main import create_app
from app.settings import Settings


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def print_timings(rows: list[tuple[str, list[float]]]) -> None:
    """Median and p99 of each series in ms, then the first over the last."""
    for label, values in rows:
        print(
            f"{label:28s} median {statistics.median(values) * 1000:7.3f} ms"
            f"   p99 {percentile(values, 0.99) * 1000:7.3f} ms"
        )
    server, baseline = rows[0][1], rows[-1][1]
    print(
        f"ratio server/raw: median {statistics.median(server) / statistics.median(baseline):.1f}x"
        f"   p99 {percentile(server, 0.99) / percentile(baseline, 0.99):.1f}x"
    )


def _asyncpg_args(url: Any) -> dict[str, Any]:
    return {
        "host": url.host,
        "port": url.port,
        "user": url.username,
        "password": url.password,
        "database": url.database,
    }


@asynccontextmanager
async def scratch_database(tmp: Path, label: str = "bench") -> AsyncIterator[str]:
    """A migrated, empty database URL: a SQLite file in ``tmp`` or a new PostgreSQL database."""
    pg_url = os.environ.get("POSCRM_DATABASE_URL", "")
    if not pg_url.startswith("postgresql"):
        database_url = f"sqlite+aiosqlite:///{tmp / f'{label}.db'}"
        await asyncio.to_thread(upgrade, database_url)
        yield database_url
        return
    import asyncpg

    name = f"poscrm_{label}_{uuid.uuid4().hex[:8]}"
    url = make_url(pg_url)
    admin = await asyncpg.connect(**_asyncpg_args(url))
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        database_url = url.set(database=name).render_as_string(hide_password=False)
        await asyncio.to_thread(upgrade, database_url)
        yield database_url
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


@asynccontextmanager
async def running_app(database_url: str, tmp: Path) -> AsyncIterator[Any]:
    """The whole ASGI app on ``database_url``, started as ``poscrm serve`` starts it."""
    settings = Settings(
        data_dir=tmp, database_url=database_url, redis_url=os.environ.get("POSCRM_REDIS_URL", "")
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        yield app


def temp_dir() -> Path:
    return Path(tempfile.mkdtemp(prefix="poscrm-bench-"))


async def make_token(app: Any, *permissions: Permission) -> str:
    from tests.factories import Factory

    return await Factory(app.state.runtime).token(*(permissions or (Permission.CUSTOMER_VIEW,)))


async def time_graphql(
    app: Any, token: str, query: str, variables: list[dict[str, Any]], warm_up: int = 50
) -> tuple[list[float], list[list[tuple[str, Any]]], list[dict[str, Any]]]:
    """Each request's time through the ASGI app, the SQL it ran, and its answer's data."""
    db = app.state.runtime.db
    captured: list[tuple[str, Any]] = []

    def capture(_c: Any, _cur: Any, statement: str, parameters: Any, *_: Any) -> None:
        if not statement.startswith(("BEGIN", "PRAGMA", "COMMIT", "ROLLBACK")):
            captured.append((statement, parameters))

    transport = httpx.ASGITransport(app=app)
    headers = {"Authorization": f"Bearer {token}"}
    timings: list[float] = []
    per_request: list[list[tuple[str, Any]]] = []
    answers: list[dict[str, Any]] = []
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
        for values in variables[:warm_up]:  # caches, connections, the OS page cache
            await client.post(
                "/graphql", json={"query": query, "variables": values}, headers=headers
            )
        event.listen(db.engine.sync_engine, "before_cursor_execute", capture)
        try:
            for values in variables:
                captured.clear()
                started = time.perf_counter()
                response = await client.post(
                    "/graphql", json={"query": query, "variables": values}, headers=headers
                )
                timings.append(time.perf_counter() - started)
                body = response.json()
                if "errors" in body:
                    raise RuntimeError(f"GraphQL errors: {body['errors']}")
                answers.append(body["data"])
                per_request.append(list(captured))
        finally:
            event.remove(db.engine.sync_engine, "before_cursor_execute", capture)
    return timings, per_request, answers


async def replay(database_url: str, per_request: list[list[tuple[str, Any]]]) -> list[float]:
    """The same statements with the same parameters on the bare driver, timed per request."""
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
    conn = await raw_connect(database_url)
    try:
        for statements in per_request:
            started = time.perf_counter()
            for sql, params in statements:
                await conn.fetch(sql, *params)
            timings.append(time.perf_counter() - started)
    finally:
        await conn.close()
    return timings


async def raw_connect(database_url: str) -> Any:
    """An asyncpg connection (PostgreSQL URLs only)."""
    import asyncpg

    return await asyncpg.connect(**_asyncpg_args(make_url(database_url)))


async def bare(database_url: str, sql: list[str]) -> float:
    """Each statement run and fetched whole on the bare driver; the total time."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        conn = sqlite3.connect(url.database or "")
        started = time.perf_counter()
        for statement in sql:
            conn.execute(statement).fetchall()
        elapsed = time.perf_counter() - started
        conn.close()
        return elapsed
    pg = await raw_connect(database_url)
    try:
        started = time.perf_counter()
        for statement in sql:
            await pg.fetch(statement)
        return time.perf_counter() - started
    finally:
        await pg.close()


# -- a real `poscrm serve` ---------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


POSCRM = Path(sys.executable).parent / "poscrm"


@asynccontextmanager
async def served(database_url: str, folder: Path) -> AsyncIterator[int]:
    """One `poscrm serve --no-worker` (uvicorn, one process) on ``database_url``, its data
    (and embedded Redis) in ``folder``, up and answering: its port. Stopped on exit."""
    await asyncio.to_thread(folder.mkdir, mode=0o700)
    env = {
        **os.environ,
        "POSCRM_DATA_DIR": str(folder),
        "POSCRM_DATABASE_URL": database_url,
        # One access line per request would be the bench.
        "POSCRM_LOG_LEVEL": "WARNING",
    }
    port = free_port()
    command = [str(POSCRM), "serve", "--host", "127.0.0.1", "--port", str(port), "--no-worker"]
    # stderr stays: start-up failures show.
    process = await asyncio.to_thread(subprocess.Popen, command, env=env, stdout=subprocess.DEVNULL)
    try:
        await asyncio.to_thread(wait_until_up, port, process)
        yield port
    finally:
        process.terminate()
        await asyncio.to_thread(process.wait, 30)


def wait_until_up(port: int, process: subprocess.Popen[bytes], timeout: float = 180) -> None:
    """Until ``/healthz`` answers 200; a loaded machine takes a while to import the app."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit("poscrm serve exited")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit("poscrm serve did not start")
