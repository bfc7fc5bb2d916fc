"""A write cancelled mid-statement must not leave SQLite's file locked for every other writer."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import text

from app.db.engine import Database
from tests.conftest import BACKEND

pytestmark = pytest.mark.skipif(BACKEND != "sqlite", reason="SQLite's file lock")

LONG = (
    "WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < 10000000) "
    "SELECT count(*) FROM c"
)


async def test_a_write_cancelled_mid_statement_frees_the_file(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cancel.db'}"
    db, other = Database(url), Database(url)
    try:
        async with db.write() as session:
            await session.execute(text("CREATE TABLE t (x INTEGER)"))

        async def long_write() -> None:
            async with db.write() as session:
                await session.execute(text("INSERT INTO t VALUES (1)"))
                await session.execute(text(LONG))  # a job's statement, cut by its timeout

        task = asyncio.create_task(long_write())
        await asyncio.sleep(0.2)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        # Another writer (a till) gets the file: before the fix, "database is locked"
        # after the 10 s busy timeout, until the collector happened to run.
        async with other.write() as session:
            await session.execute(text("INSERT INTO t VALUES (2)"))
        async with other.read() as session:
            assert (await session.execute(text("SELECT x FROM t"))).all() == [(2,)]
    finally:
        await db.dispose()
        await other.dispose()
