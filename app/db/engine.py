"""Engines and sessions; every SQLite/PostgreSQL difference in connection handling lives here."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from app.private_files import create_private_file


def _sqlite_pragmas(*, immediate: bool) -> Any:
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event issue BEGIN itself (pysqlite's implicit
        # transactions would otherwise defer it, and upgrade read locks to write
        # locks mid-transaction, which WAL answers with SQLITE_BUSY at once).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.close()

    def on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return on_connect, on_begin


def create_engine(url: str, *, writer: bool = False, **kwargs: Any) -> AsyncEngine:
    # A database error's text would otherwise carry the statement's parameters (names,
    # phones) into logged tracebacks.
    kwargs.setdefault("hide_parameters", True)
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_async_engine(url, pool_pre_ping=True, **kwargs)
    if writer:
        # One writer connection per process: writes queue in asyncio instead of
        # spinning on SQLite's busy handler; other processes wait on busy_timeout.
        kwargs.setdefault("pool_size", 1)
        kwargs.setdefault("max_overflow", 0)
    if parsed.database and parsed.database != ":memory:":
        # Created owner-only before SQLite creates it world-readable; its -wal and -shm
        # files then take the same mode (issue 9 §7: the file holds every customer).
        create_private_file(Path(parsed.database))
    engine = create_async_engine(url, **kwargs)
    on_connect, on_begin = _sqlite_pragmas(immediate=writer)
    event.listen(engine.sync_engine, "connect", on_connect)
    event.listen(engine.sync_engine, "begin", on_begin)
    return engine


class Database:
    """A read engine and a write engine (the same one on PostgreSQL)."""

    def __init__(self, url: str, **engine_kwargs: Any) -> None:
        self.url = url
        self.dialect = make_url(url).get_backend_name()
        self.engine = create_engine(url, **engine_kwargs)
        self.write_engine = (
            create_engine(url, writer=True, **engine_kwargs)
            if self.dialect == "sqlite"
            else self.engine
        )
        self._read_sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self._write_sessions = async_sessionmaker(self.write_engine, expire_on_commit=False)

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        """A short read-only session (loaders, queries); never commits."""
        async with self._read_sessions() as session:
            yield session

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncSession]:
        """One transaction: committed when the block ends, rolled back on any exception."""
        async with self._write_sessions() as session, session.begin():
            yield session

    async def dispose(self) -> None:
        await self.engine.dispose()
        if self.write_engine is not self.engine:
            await self.write_engine.dispose()
