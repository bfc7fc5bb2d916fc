"""Migration 0021: each store's change counter continues from the chain-wide one, so a
till's cursor taken before the upgrade neither goes backwards nor skips a change."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from app.db.migrate import downgrade, upgrade
from tests.conftest import BACKEND


@pytest.mark.skipif(BACKEND != "sqlite", reason="a fresh file database is enough")
async def test_0021_starts_every_store_at_the_chain_counter_and_back(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'feed.db'}"
    await asyncio.to_thread(upgrade, url, "0020")
    engine = create_async_engine(url)
    async with engine.begin() as conn:
        await conn.execute(text("UPDATE sync_counter SET value = 41"))
        stores = (await conn.execute(text("SELECT COUNT(*) FROM stores"))).scalar_one()
    await asyncio.to_thread(upgrade, url, "0021")
    async with engine.begin() as conn:
        counters = (await conn.execute(text("SELECT value FROM store_sync_counters"))).all()
        assert stores >= 1
        assert [v for (v,) in counters] == [41] * stores
        await conn.execute(text("UPDATE store_sync_counters SET value = 57"))
    await asyncio.to_thread(downgrade, url, "0020")
    async with engine.connect() as conn:
        value = (await conn.execute(text("SELECT value FROM sync_counter"))).scalar_one()
    await engine.dispose()
    assert value == 57
