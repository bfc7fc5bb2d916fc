"""Migration 0013 makes each database its own random signing key for unsubscribe links."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import create_async_engine

from app.db.migrate import downgrade, upgrade
from app.db.models import MarketingSigningKey
from tests.conftest import BACKEND


async def _keys(url: str) -> list[tuple[int, str]]:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(select(MarketingSigningKey.id, MarketingSigningKey.key))
            return [(row_id, key) for row_id, key in rows.all()]
    finally:
        await engine.dispose()


@pytest.mark.skipif(BACKEND != "sqlite", reason="a fresh file database is enough")
async def test_0013_makes_one_random_key_per_database(tmp_path: Path) -> None:
    first, second = (f"sqlite+aiosqlite:///{tmp_path / name}" for name in ("a.db", "b.db"))
    await asyncio.to_thread(upgrade, first, "0013")
    await asyncio.to_thread(upgrade, second, "0013")

    [(row_id, key)] = await _keys(first)
    [(_, other)] = await _keys(second)
    assert row_id == 1
    assert len(bytes.fromhex(key)) == 32
    assert key != other  # never a constant shipped with the code

    # Down and up again: a new key (links already sent stop working, as documented).
    await asyncio.to_thread(downgrade, first, "0012")
    await asyncio.to_thread(upgrade, first, "0013")
    [(_, renewed)] = await _keys(first)
    assert renewed != key
