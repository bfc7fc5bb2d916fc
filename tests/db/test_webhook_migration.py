"""Migration 0010 gives WEBHOOK_MANAGE to the roles that run the shop's set-up, and no other."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import create_async_engine

from app.db.migrate import downgrade, upgrade
from app.db.models import Role
from tests.conftest import BACKEND


@pytest.mark.skipif(BACKEND != "sqlite", reason="a fresh file database is enough")
async def test_0010_grants_webhook_manage_to_settings_managers_and_the_administrator(
    tmp_path: Path,
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'webhook-grants.db'}"
    await asyncio.to_thread(upgrade, url, "0009")
    roles = {
        "Administrator": ["STAFF_MANAGE"],
        "Owner": ["SETTINGS_MANAGE", "REPORT_VIEW"],
        "Cashier": ["SALE_CREATE", "CUSTOMER_VIEW"],
    }
    engine = create_async_engine(url)
    async with engine.begin() as conn:
        await conn.execute(
            insert(Role), [{"name": name, "permissions": held} for name, held in roles.items()]
        )
    await asyncio.to_thread(upgrade, url, "0010")
    async with engine.connect() as conn:
        after = dict((await conn.execute(select(Role.name, Role.permissions))).all())
    assert after == {
        "Administrator": ["STAFF_MANAGE", "WEBHOOK_MANAGE"],
        "Owner": ["SETTINGS_MANAGE", "REPORT_VIEW", "WEBHOOK_MANAGE"],
        "Cashier": ["SALE_CREATE", "CUSTOMER_VIEW"],
    }
    await asyncio.to_thread(downgrade, url, "0009")
    async with engine.connect() as conn:
        back = dict((await conn.execute(select(Role.name, Role.permissions))).all())
    await engine.dispose()
    assert back == roles
