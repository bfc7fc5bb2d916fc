"""Engines and sessions; every SQLite/PostgreSQL difference in connection handling lives here."""

from __future__ import annotations

import asyncio
import gc
import sqlite3
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from contextvars import ContextVar, Token
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.util import await_

from app.domain.errors import StatementTimeout
from app.private_files import create_private_file

# PostgreSQL's query_canceled: statement_timeout (or an operator's pg_cancel_backend).
_PG_QUERY_CANCELED = "57014"
# SQLite's VM calls the progress handler every this many instructions: a few
# milliseconds of work, so the deadline is checked often enough and cheaply (the
# handler takes the GIL from aiosqlite's thread each time).
_SQLITE_PROGRESS_STEPS = 100_000


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


@dataclass(slots=True)
class _Deadline:
    """When the running statement of one SQLite connection must stop (monotonic), or None."""

    at: float | None = None


def _sqlite_statement_budget(engine: AsyncEngine, seconds: float) -> None:
    """Stop any statement on ``engine`` that runs longer than ``seconds``.

    SQLite has no statement timeout: a progress handler on each connection answers
    "stop" once the statement's deadline has passed, and the statement fails with
    SQLITE_INTERRUPT. The handler only returns a flag (an exception raised inside it
    would be swallowed by sqlite3). The deadline is set before each statement, cleared
    after it (or, if it failed, at check-in), and a stale one never outlives the next
    statement's start.
    """

    def on_connect(_dbapi_connection: Any, record: Any) -> None:
        deadline = _Deadline()
        record.info["deadline"] = deadline

        def expired() -> int:
            at = deadline.at
            return int(at is not None and time.monotonic() > at)

        # Installed in aiosqlite's own thread, where the sqlite3 connection lives.
        await_(record.driver_connection.set_progress_handler(expired, _SQLITE_PROGRESS_STEPS))

    def before_execute(conn: Any, *_: Any) -> None:
        conn.connection.info["deadline"].at = time.monotonic() + seconds

    def after_execute(conn: Any, *_: Any) -> None:
        conn.connection.info["deadline"].at = None

    def on_checkin(_dbapi_connection: Any, record: Any) -> None:
        deadline = record.info.get("deadline")
        if deadline is not None:
            deadline.at = None

    sync_engine = engine.sync_engine
    event.listen(sync_engine, "connect", on_connect)
    event.listen(sync_engine, "before_cursor_execute", before_execute)
    event.listen(sync_engine, "after_cursor_execute", after_execute)
    event.listen(sync_engine.pool, "checkin", on_checkin)


@dataclass(slots=True)
class _RequestReads:
    """One HTTP request's read session, which every read of the request shares.

    A read session of its own per loader costs a pool checkout, BEGIN and ROLLBACK (and
    on PostgreSQL the pool's ping) around one statement: most of a small screen's time
    (issue 12). The lock makes the request's loaders take turns on the one connection.
    """

    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    session: AsyncSession | None = None
    owner: Database | None = None

    def serves(self, db: Database) -> bool:
        """Whether reads of ``db`` share this slot: the first database read claims it."""
        return self.owner is None or self.owner is db

    def session_of(self, db: Database) -> AsyncSession:
        # ``read`` checked ``serves`` first; an app reads through one Database anyway.
        assert self.serves(db)
        if self.session is None:
            self.session, self.owner = db._read_sessions(), db
        return self.session

    async def close(self) -> None:
        session, self.session, self.owner = self.session, None, None
        if session is not None:
            await session.close()


_request_reads: ContextVar[_RequestReads | None] = ContextVar("request_reads", default=None)
# Set while a block holds the request's read session: a read or write opened inside it
# (re-entering) must not wait for the lock its own caller holds.
_in_request_read: ContextVar[bool] = ContextVar("in_request_read", default=False)


def hold_reads() -> Token[_RequestReads | None]:
    """At the start of one HTTP request: its reads share one session from here on."""
    return _request_reads.set(_RequestReads())


async def release_reads(token: Token[_RequestReads | None]) -> None:
    """At the end of the request: the shared session's connection goes back to the pool."""
    reads = _request_reads.get()
    _request_reads.reset(token)
    if reads is not None and reads.session is not None:
        # Even when the request was cancelled (a client gone): else the connection waits
        # for the garbage collector.
        await asyncio.shield(reads.close())


def is_statement_timeout(error: BaseException) -> bool:
    """Whether a database error is a statement stopped by its time budget."""
    if not isinstance(error, DBAPIError):
        return False
    orig = error.orig
    if isinstance(orig, sqlite3.OperationalError):
        return orig.sqlite_errorcode == sqlite3.SQLITE_INTERRUPT
    return getattr(orig, "sqlstate", None) == _PG_QUERY_CANCELED


def create_engine(
    url: str,
    *,
    writer: bool = False,
    statement_timeout: float | None = None,
    **kwargs: Any,
) -> AsyncEngine:
    # A database error's text would otherwise carry the statement's parameters (names,
    # phones) into logged tracebacks.
    kwargs.setdefault("hide_parameters", True)
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        if statement_timeout is not None:
            # Set once per connection, at connect: no round trip per transaction.
            server_settings = kwargs.setdefault("connect_args", {}).setdefault(
                "server_settings", {}
            )
            server_settings["statement_timeout"] = str(_milliseconds(statement_timeout))
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
    if statement_timeout is not None:
        _sqlite_statement_budget(engine, statement_timeout)
    return engine


def _milliseconds(seconds: float) -> int:
    return max(1, round(seconds * 1000))


def _free_abandoned_connections() -> None:
    """Collect, soon, the SQLite connection a cancelled write left behind.

    A task cancelled while its statement runs (arq's job timeout, a worker stopped)
    abandons its connection: SQLAlchemy cannot roll back mid-call, so it drops the
    connection instead, and the file's write lock stays held until the collector closes
    it: every other writer then waits out the busy timeout and fails ("database is
    locked"). Measured: without this the next write failed after 10 s, with it it went
    through within 0.1 s.
    Scheduled, not run here: the cancellation's traceback still holds the connection.
    """
    loop = asyncio.get_running_loop()
    for delay in (0.0, 0.1, 1.0):
        loop.call_later(delay, gc.collect)


class Database:
    """A read engine and a write engine (the same one on PostgreSQL).

    ``read_timeout`` and ``write_timeout`` bound each statement of a read session and
    of a write transaction, in seconds; None leaves them unbounded (the command line's
    imports and exports). A statement stopped by its bound raises ``StatementTimeout``,
    and its connection goes back to the pool healthy.
    """

    def __init__(
        self,
        url: str,
        *,
        read_timeout: float | None = None,
        write_timeout: float | None = None,
        **engine_kwargs: Any,
    ) -> None:
        self.url = url
        self.dialect = make_url(url).get_backend_name()
        self.engine = create_engine(url, statement_timeout=read_timeout, **engine_kwargs)
        self.write_engine = (
            create_engine(url, writer=True, statement_timeout=write_timeout, **engine_kwargs)
            if self.dialect == "sqlite"
            else self.engine
        )
        # PostgreSQL: one engine, whose connections start with the read bound; a write
        # transaction sets its own bound first (one round trip; writes are the rarer).
        self._write_bound: str | None = None
        if self.dialect != "sqlite" and (read_timeout, write_timeout) != (None, None):
            bound = 0 if write_timeout is None else _milliseconds(write_timeout)  # 0: none
            self._write_bound = f"SET LOCAL statement_timeout = {bound}"
        self._read_sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self._write_sessions = async_sessionmaker(self.write_engine, expire_on_commit=False)

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        """A read-only session (loaders, queries); never commits.

        Inside an HTTP request (``hold_reads``) every read shares one session, one at a
        time; it ends with the request, and before any write (``write``), so what the
        request reads after its own commit sees that commit. Elsewhere (jobs, the command
        line) each block has a short session of its own.
        """
        shared = _request_reads.get()
        if shared is None or _in_request_read.get() or not shared.serves(self):
            try:
                async with self._read_sessions() as session:
                    yield session
            except DBAPIError as error:
                if is_statement_timeout(error):
                    raise StatementTimeout from error
                raise
            return
        async with shared.lock:
            inside = _in_request_read.set(True)
            try:
                yield shared.session_of(self)
            except BaseException as error:
                # A failed statement (a timeout, a cancelled request) leaves the session's
                # transaction in doubt: the request's next read starts a new one.
                await asyncio.shield(shared.close())
                if isinstance(error, DBAPIError) and is_statement_timeout(error):
                    raise StatementTimeout from error
                raise
            finally:
                _in_request_read.reset(inside)

    async def _end_request_read(self) -> None:
        """Close the request's shared read session, if one is open (see ``read``)."""
        shared = _request_reads.get()
        if shared is not None and shared.session is not None and not _in_request_read.get():
            async with shared.lock:
                await shared.close()

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncSession]:
        """One transaction: committed when the block ends, rolled back on any exception.

        A request's shared read session is closed first (it gives back its PostgreSQL
        connection before taking another: requests holding one each while waiting for a
        second could empty the pool) and after (reads then see this commit).
        """
        await self._end_request_read()
        try:
            async with self._write_sessions() as session, session.begin():
                if self._write_bound is not None:
                    await session.execute(text(self._write_bound))
                yield session
        except DBAPIError as error:
            if is_statement_timeout(error):
                raise StatementTimeout from error
            raise
        except asyncio.CancelledError:
            if self.dialect == "sqlite":
                _free_abandoned_connections()
            raise
        finally:
            await self._end_request_read()

    async def dispose(self) -> None:
        await self.engine.dispose()
        if self.write_engine is not self.engine:
            await self.write_engine.dispose()
