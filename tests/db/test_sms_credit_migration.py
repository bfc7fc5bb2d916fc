"""Migration 0011: a new database starts with no SMS credits; one that already queued SMS
(a shop that sent them for free until now) gets an opening top-up in the ledger."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from app.db.migrate import downgrade, upgrade
from tests.conftest import BACKEND


async def _migrate(tmp_path: Path, name: str, *, sent_sms: bool) -> tuple[list, list]:  # type: ignore[type-arg]
    url = f"sqlite+aiosqlite:///{tmp_path / name}"
    await asyncio.to_thread(upgrade, url, "0010")
    engine = create_async_engine(url)
    if sent_sms:
        async with engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO notifications (id, channel, scenario, status, attempts, "
                    "created_at) VALUES (:id, 'SMS', 'REGISTRATION', 'SENT', 1, "
                    "'2026-12-01 10:00:00.000000')"
                ),
                {"id": uuid.uuid4().hex},
            )
    await asyncio.to_thread(upgrade, url, "0011")
    async with engine.connect() as conn:
        balance = list(
            (await conn.execute(text("SELECT available, reserved FROM sms_credit_balance"))).all()
        )
        ledger = list(
            (
                await conn.execute(text("SELECT kind, segments, reference FROM sms_credit_ledger"))
            ).all()
        )
    await engine.dispose()
    await asyncio.to_thread(downgrade, url, "0010")
    return balance, ledger


@pytest.mark.skipif(BACKEND != "sqlite", reason="a fresh file database is enough")
async def test_0011_starts_a_new_database_at_zero(tmp_path: Path) -> None:
    balance, ledger = await _migrate(tmp_path, "new.db", sent_sms=False)
    assert [tuple(r) for r in balance] == [(0, 0)]
    assert ledger == []


@pytest.mark.skipif(BACKEND != "sqlite", reason="a fresh file database is enough")
async def test_0011_gives_a_shop_that_sent_sms_an_opening_balance(tmp_path: Path) -> None:
    balance, ledger = await _migrate(tmp_path, "old.db", sent_sms=True)
    assert [tuple(r) for r in balance] == [(1000, 0)]
    [(kind, segments, reference)] = ledger
    assert (kind, segments) == ("TOP_UP", 1000)
    assert "opening balance" in reference
