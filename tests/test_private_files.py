"""The data folder and what is in it are the owner's alone (issue 9 §7).

A real start of the embedded single-shop default (whatever the suite's backend: the files
are the default's): `poscrm migrate`, then the app with its in-process worker and embedded
Redis, a customer registered, the welcome message written to notifications.log. Every
folder it made is 0700 and every file 0600, the SQLite -wal and -shm files included.
"""

from __future__ import annotations

import asyncio
import logging
import stat
import uuid
from pathlib import Path
from typing import Any

import pytest

from app.cli import _migrate
from app.main import create_app
from app.services.customers import CustomerCreate, CustomerService
from app.settings import Settings


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def test_a_real_start_makes_only_owner_readable_files(tmp_path_factory: Any) -> None:
    # Short path: the embedded Redis listens on a unix socket inside it.
    data = Path(tmp_path_factory.mktemp("p")) / "var"
    settings = Settings(
        data_dir=data,
        database_url="",
        redis_url="",
        redis_prefix=f"poscrm-files-{uuid.uuid4().hex[:8]}",
        password_time_cost=1,
        password_memory_kib=1024,
    )
    await asyncio.to_thread(_migrate, settings)
    app = create_app(settings, with_worker=True)
    async with app.router.lifespan_context(app):
        runtime = app.state.runtime
        created = await CustomerService(runtime.tx, settings, None).create(
            CustomerCreate(name="Ada", phone="+12125550100", email="ada@example.com")
        )
        assert created.errors == []
        log = data / "notifications.log"
        for _ in range(200):  # the in-process worker delivers within a moment
            if log.exists() and log.read_text():
                break
            await asyncio.sleep(0.05)
        assert "ada@example.com" in log.read_text()
        # While the database is open: its WAL and shared-memory files exist now.
        files = [
            data / "poscrm.db",
            data / "poscrm.db-wal",
            data / "poscrm.db-shm",
            log,
            *(p for p in (data / "redis").iterdir() if p.is_file()),
        ]
        folders = [data, data / "redis"]
        assert {p.name for p in files} >= {"redis.log", "redis.pid", "appendonly.aof"}
        assert {str(p): oct(mode(p)) for p in folders} == {str(p): "0o700" for p in folders}
        assert {str(p): oct(mode(p)) for p in files} == {str(p): "0o600" for p in files}


async def test_an_open_data_folder_is_reported_at_start(
    tmp_path_factory: Any, caplog: pytest.LogCaptureFixture
) -> None:
    # An older install (or a folder the operator chose) is left as it is, but said so.
    data = Path(tmp_path_factory.mktemp("o")) / "var"
    data.mkdir(mode=0o755)
    data.chmod(0o755)
    settings = Settings(
        data_dir=data, redis_url="", redis_prefix=f"poscrm-open-{uuid.uuid4().hex[:8]}"
    )
    await asyncio.to_thread(_migrate, settings)
    app = create_app(settings)
    with caplog.at_level(logging.WARNING, logger="app.private_files"):
        async with app.router.lifespan_context(app):
            pass
    assert any("readable by other users" in r.getMessage() for r in caplog.records)
    assert mode(data) == 0o755
