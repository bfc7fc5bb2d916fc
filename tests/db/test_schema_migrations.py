"""Alembic owns the schema: the migrated database must match the models exactly."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import create_async_engine

from app.db.base import Base
from app.db.migrate import downgrade, upgrade
from tests.conftest import BACKEND


async def test_models_and_migrations_agree(db) -> None:
    def diff(sync_conn):  # type: ignore[no-untyped-def]
        context = MigrationContext.configure(sync_conn, opts={"compare_type": True})
        return compare_metadata(context, Base.metadata)

    async with db.engine.connect() as conn:
        differences = await conn.run_sync(diff)
    assert differences == [], "models and migrations differ: add an Alembic migration"


@pytest.mark.skipif(BACKEND != "sqlite", reason="a fresh file database is enough")
async def test_downgrade_to_base_and_upgrade_again(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'roundtrip.db'}"
    await asyncio.to_thread(upgrade, url)
    await asyncio.to_thread(downgrade, url, "base")
    engine = create_async_engine(url)
    async with engine.connect() as conn:
        tables = await conn.run_sync(lambda c: inspect(c).get_table_names())
    assert set(tables) <= {"alembic_version"}
    await engine.dispose()
    await asyncio.to_thread(upgrade, url)


async def test_the_first_migration_creates_the_head_office(raw_sql) -> None:
    assert await raw_sql("SELECT code FROM stores WHERE is_head_office = :t", t=True) == [("HO",)]
