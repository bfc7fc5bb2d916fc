"""Many rows into one table by the backend's fastest bulk path: COPY on PostgreSQL,
executemany on the bare sqlite3 cursor on SQLite.

Both take the values through the columns' own bind processors (the Uuid, UTCDateTime,
Money and JSON types), once per value, so a row reads back exactly as one written by
``insert(table)`` would; what they skip is SQLAlchemy's per-row parameter handling,
which cost an import more than the database's own work (bench/README.md, import).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from operator import itemgetter
from typing import Any

from sqlalchemy import Table, text
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession


async def insert_rows(
    session: AsyncSession,
    table: Table,
    rows: Sequence[Mapping[str, Any]],
    same: Mapping[str, Any] | None = None,
) -> None:
    """Insert ``rows`` (the same keys in each) in the session's transaction.

    ``same`` holds columns with one value for every row (a timestamp, an actor), bound
    once instead of once per row. A column in neither keeps its server default (an
    autoincrement id); Python-side defaults are not applied.
    """
    if not rows:
        return
    conn = await session.connection()
    dialect = conn.dialect
    varying = list(rows[0])
    fixed = dict(same or {})
    columns = [*varying, *fixed]
    processors: list[tuple[int, Callable[[Any], Any]]] = []
    for position, name in enumerate(varying):
        found = table.c[name].type._cached_bind_processor(dialect)
        if found is not None:
            processors.append((position, found))
    tail: tuple[Any, ...] = ()
    for name, value in fixed.items():
        once = table.c[name].type._cached_bind_processor(dialect)
        tail += (once(value) if once is not None else value,)
    # A tuple of the row's values in column order (itemgetter of one name gives a value).
    pick = itemgetter(*varying) if len(varying) > 1 else lambda row: (row[varying[0]],)
    records: list[tuple[Any, ...]]
    if not processors:
        records = [(*pick(row), *tail) for row in rows]
    else:
        records = []
        for row in rows:
            values = list(pick(row))
            for position, process in processors:
                values[position] = process(values[position])
            records.append((*values, *tail))
    if dialect.name == "postgresql":
        import asyncpg  # type: ignore[import-untyped]  # the PostgreSQL driver

        raw = await conn.get_raw_connection()
        driver = raw.driver_connection
        assert driver is not None
        if not driver.is_in_transaction():
            # SQLAlchemy's asyncpg adapter opens its transaction at the first statement;
            # COPY on the bare connection must not run before it, outside it.
            await conn.execute(text("SELECT 1"))
        try:
            await driver.copy_records_to_table(table.name, records=records, columns=columns)
        except asyncpg.PostgresError as error:
            # As SQLAlchemy would raise it: a unique violation is an IntegrityError, which
            # Transactions.run retries once; a statement timeout is recognised by its code.
            kind = IntegrityError if str(error.sqlstate).startswith("23") else DBAPIError
            raise kind(f"COPY {table.name}", None, error) from error
        return
    quote = dialect.identifier_preparer.quote
    names = ", ".join(quote(c) for c in columns)
    marks = ", ".join("?" * len(columns))
    await conn.exec_driver_sql(
        f"INSERT INTO {quote(table.name)} ({names}) VALUES ({marks})",  # noqa: S608
        records,
    )
