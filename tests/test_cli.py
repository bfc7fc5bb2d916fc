"""The fixed CLI names, run as a user would: a fresh data folder, real subprocesses."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from app.embedded_redis import EmbeddedRedis
from app.schema.export import sdl

ROOT = Path(__file__).resolve().parent.parent


def poscrm(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("POSCRM_")}
    env.update(POSCRM_DATA_DIR=str(data_dir), POSCRM_PASSWORD_MEMORY_KIB="1024")
    return subprocess.run(  # noqa: S603  (our own CLI)
        [sys.executable, "-m", "app.cli", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def fresh(tmp_path: Path) -> Path:
    data = tmp_path / "d"
    assert poscrm(data, "migrate").returncode == 0
    return data


def test_create_admin_refuses_to_overwrite(fresh: Path) -> None:
    first = poscrm(fresh, "create-admin", "--username", "Boss", "--password", "long-enough")
    assert first.returncode == 0, first.stderr
    again = poscrm(fresh, "create-admin", "--username", "boss", "--password", "other-password")
    assert again.returncode == 1
    assert "DUPLICATE" in again.stderr


def test_create_admin_rejects_a_short_password(fresh: Path) -> None:
    result = poscrm(fresh, "create-admin", "--username", "boss", "--password", "short")
    assert result.returncode == 1
    assert "INVALID" in result.stderr


def test_seed_demo_fills_once(fresh: Path) -> None:
    first = poscrm(fresh, "seed-demo", "--customers", "40")
    assert first.returncode == 0, first.stderr
    assert "40 customers" in first.stdout
    again = poscrm(fresh, "seed-demo")
    assert again.returncode == 0
    assert "already there" in again.stdout


def test_export_schema_writes_the_sdl(tmp_path: Path) -> None:
    out = tmp_path / "schema.graphql"
    result = poscrm(tmp_path / "d", "export-schema", "--output", str(out))
    assert result.returncode == 0, result.stderr
    assert out.read_text() == sdl()


def test_embedded_redis_is_shared_and_stopped_by_its_owner(tmp_path: Path) -> None:
    import redis

    owner = EmbeddedRedis(tmp_path / "r")
    url = owner.start()
    try:
        # A second process on the same data folder finds the running server.
        guest = EmbeddedRedis(tmp_path / "r")
        assert guest.start() == url
        guest.stop()  # not its server: it stays up
        client = redis.Redis.from_url(url)
        assert client.ping()
        client.close()
    finally:
        owner.stop()
    with pytest.raises(redis.ConnectionError):
        redis.Redis.from_url(url).ping()
