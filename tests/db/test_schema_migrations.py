"""Alembic owns the schema: the migrated database must match the models exactly."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import insert, inspect, select
from sqlalchemy.ext.asyncio import create_async_engine

from app.db.base import Base
from app.db.migrate import alembic_config, downgrade, upgrade
from app.db.models import Customer, CustomerPhone, Role
from tests.conftest import BACKEND, postgres_database


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


@pytest.fixture
async def empty_database_url(tmp_path: Path) -> AsyncIterator[str]:
    """A database of its own, on the backend under test, for a migration to run through."""
    if BACKEND == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'steps.db'}"
        return
    async with postgres_database("poscrm_mig") as url:
        yield url


async def test_0008_gives_every_stored_number_its_reversed_digits(empty_database_url) -> None:
    # The PostgreSQL backfill is SQL, the SQLite one Python: both must agree with the app.
    url = empty_database_url
    await asyncio.to_thread(upgrade, url, "0007")
    engine = create_async_engine(url)
    first, second = uuid.uuid4(), uuid.uuid4()
    customers = sa.table(
        "customers",
        sa.column("id", sa.Uuid()),
        sa.column("name", sa.String()),
        sa.column("name_key", sa.String()),
        sa.column("phone", sa.String()),
        sa.column("status", sa.String()),
        sa.column("version", sa.Integer()),
        sa.column("allow_credit_sale", sa.Boolean()),
        sa.column("willing_to_receive", sa.Boolean()),
        sa.column("created_at", sa.DateTime(timezone=True)),
        sa.column("updated_at", sa.DateTime(timezone=True)),
    )
    now = datetime.now(UTC)
    common = {"status": "ACTIVE", "version": 1, "allow_credit_sale": False,
              "willing_to_receive": False, "created_at": now, "updated_at": now}  # fmt: skip
    async with engine.begin() as conn:
        await conn.execute(
            insert(customers),
            [
                {"id": first, "name": "A", "name_key": "a", "phone": "+12125550142", **common},
                {"id": second, "name": "B", "name_key": "b", "phone": "merged:abc", **common},
            ],
        )
        await conn.execute(
            insert(CustomerPhone.__table__).values(  # type: ignore[arg-type]
                phone="+447700900123", customer_id=first, position=1
            )
        )
    await asyncio.to_thread(upgrade, url, "0008")
    async with engine.connect() as conn:
        main = dict((await conn.execute(select(Customer.phone, Customer.phone_reversed))).all())
        other = (await conn.execute(select(CustomerPhone.phone_reversed))).scalars().all()
    await engine.dispose()
    assert main == {"+12125550142": "24105552121", "merged:abc": None}
    assert other == ["321009007744"]
