"""Alembic owns the schema: the migrated database must match the models exactly."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import insert, inspect, select
from sqlalchemy.ext.asyncio import create_async_engine

from app.db.base import Base
from app.db.migrate import alembic_config, downgrade, upgrade
from app.db.models import Role
from tests.conftest import BACKEND


async def test_models_and_migrations_agree(db) -> None:
    def diff(sync_conn):  # type: ignore[no-untyped-def]
        context = MigrationContext.configure(sync_conn, opts={"compare_type": True})
        return compare_metadata(context, Base.metadata)

    async with db.engine.connect() as conn:
        differences = await conn.run_sync(diff)
    assert differences == [], "models and migrations differ: add an Alembic migration"


async def test_the_database_is_at_the_single_head(db, raw_sql) -> None:
    # Two heads (migrations written on parallel branches) make `upgrade head` fail.
    heads = ScriptDirectory.from_config(alembic_config(str(db.url))).get_heads()
    assert len(heads) == 1, f"more than one migration head: {heads}"
    assert await raw_sql("SELECT version_num FROM alembic_version") == [(heads[0],)]


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


@pytest.mark.skipif(BACKEND != "sqlite", reason="a fresh file database is enough")
async def test_each_migration_steps_down_and_up_again(tmp_path: Path) -> None:
    # Dropping every table hides a downgrade that forgets an index or column; this does not.
    url = f"sqlite+aiosqlite:///{tmp_path / 'steps.db'}"
    script = ScriptDirectory.from_config(alembic_config(url))
    for revision in reversed([r.revision for r in script.walk_revisions()]):
        await asyncio.to_thread(upgrade, url, revision)
        await asyncio.to_thread(downgrade, url, "-1")
        await asyncio.to_thread(upgrade, url, revision)


@pytest.mark.skipif(BACKEND != "sqlite", reason="a fresh file database is enough")
async def test_0008_leaves_price_overrides_to_the_roles_trusted_with_money(tmp_path: Path) -> None:
    # Before 0008 every seller could price a line below the list; after it only the roles
    # that void and refund, set the catalogue, or administer keep that ability.
    url = f"sqlite+aiosqlite:///{tmp_path / 'grants.db'}"
    await asyncio.to_thread(upgrade, url, "0007")
    roles = {
        "Administrator": ["SALE_CREATE"],
        "Supervisor": ["SALE_CREATE", "SALE_VOID"],
        "Catalogue": ["SETTINGS_MANAGE"],
        "Cashier": ["SALE_CREATE", "CUSTOMER_VIEW"],
    }
    engine = create_async_engine(url)
    async with engine.begin() as conn:
        await conn.execute(
            insert(Role), [{"name": name, "permissions": held} for name, held in roles.items()]
        )
    await asyncio.to_thread(upgrade, url, "0008")
    async with engine.connect() as conn:
        after = dict((await conn.execute(select(Role.name, Role.permissions))).all())
    await engine.dispose()
    assert {name for name, held in after.items() if "SALE_PRICE_OVERRIDE" in held} == {
        "Administrator",
        "Supervisor",
        "Catalogue",
    }
    assert after["Cashier"] == ["SALE_CREATE", "CUSTOMER_VIEW"]
