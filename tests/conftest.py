"""Test fixtures: a real database (SQLite file or PostgreSQL), a real Redis, the real app over HTTP.

Backend by environment (``.ci/run`` runs the suite once per backend):
- ``POSCRM_TEST_DATABASE=sqlite`` (default): a SQLite file in a temporary folder.
- ``POSCRM_TEST_DATABASE=postgresql``: a database of our own, created on the server at
  ``POSCRM_TEST_POSTGRES_URL`` and dropped afterwards.
- ``POSCRM_TEST_REDIS_URL``: an external Redis; unset means the embedded one.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import delete, event, text, update
from sqlalchemy.engine import make_url

from app.db.base import Base
from app.db.engine import Database
from app.db.migrate import upgrade
from app.db.models import BusinessSettings, SmsCreditBalance, Store
from app.main import create_app
from app.runtime import Runtime
from app.settings import Settings
from tests.factories import Factory

# Tests send traffic only to this machine (README, "Development"). A host name that is not
# ours would be a DNS query to the outside world: a webhook URL drawn by the fuzz test, a
# README example with a shop's domain. Refused here, before any resolver is asked, so a
# test that strays fails at once instead of depending on the network.
_LOCAL_NAMES = {"localhost", "localhost.localdomain"}
_getaddrinfo = socket.getaddrinfo


def _local_getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
    name = host.decode() if isinstance(host, bytes) else host
    if name is not None and name.lower().rstrip(".") not in _LOCAL_NAMES:
        try:
            ipaddress.ip_address(name.split("%")[0])  # a literal: no DNS involved
        except ValueError:
            message = f"tests resolve no outside name: {name}"
            raise socket.gaierror(socket.EAI_NONAME, message) from None
    return _getaddrinfo(host, *args, **kwargs)


socket.getaddrinfo = _local_getaddrinfo

# And no connection leaves the machine, whatever address a test or a stored URL names (a
# webhook endpoint at a public address literal, say): refused before a packet is sent.
_connect = socket.socket.connect
_connect_ex = socket.socket.connect_ex


def _is_local(address: Any) -> bool:
    if not isinstance(address, tuple):
        return True  # a unix socket path
    try:
        return ipaddress.ip_address(str(address[0]).split("%")[0]).is_loopback
    except ValueError:
        return str(address[0]).lower() in _LOCAL_NAMES


def _local_connect(self: socket.socket, address: Any) -> None:
    if not _is_local(address):
        raise ConnectionRefusedError(f"tests connect to this machine only, not {address[0]}")
    _connect(self, address)


def _local_connect_ex(self: socket.socket, address: Any) -> int:
    if not _is_local(address):
        raise ConnectionRefusedError(f"tests connect to this machine only, not {address[0]}")
    return _connect_ex(self, address)


socket.socket.connect = _local_connect  # type: ignore[method-assign]
socket.socket.connect_ex = _local_connect_ex  # type: ignore[method-assign]

# The settings row as the migrations leave it (0004, 0012); each test starts from it.
MIGRATED_SETTINGS = {
    "customer_search_first": "PHONE",
    "default_phone_region": "US",
    "points_per_currency_unit": Decimal("1.00"),
    "point_value": Decimal("0.01"),
    "email_scenarios": ["MARKETING", "PASSWORD_RESET", "REGISTRATION", "UNSUBSCRIBE"],
    "sms_scenarios": ["MARKETING", "PASSWORD_RESET", "REGISTRATION", "UNSUBSCRIBE"],
    "points_validity_days": None,
    "sms_credit_warning_threshold": 100,
    "segment_window_days": 365,
    "segment_at_risk_days": 90,
    "segment_lapsed_days": 180,
    "segment_loyal_quintile": 4,
    "loyalty_enabled": True,
}

BACKEND = os.environ.get("POSCRM_TEST_DATABASE", "sqlite")
POSTGRES_ADMIN_URL = os.environ.get(
    "POSCRM_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
)


async def _postgres_admin(sql: str) -> None:
    import asyncpg

    url = make_url(POSTGRES_ADMIN_URL)
    conn = await asyncpg.connect(
        host=url.host,
        port=url.port,
        user=url.username,
        password=url.password,
        database=url.database,
    )
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def tmp_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # Short path: the embedded Redis listens on a unix socket inside it.
    return Path(tmp_path_factory.mktemp("d"))


@asynccontextmanager
async def postgres_database(prefix: str) -> AsyncIterator[str]:
    """The URL of a new, empty database on the test server, dropped afterwards."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    await _postgres_admin(f'CREATE DATABASE "{name}"')
    try:
        yield make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        await _postgres_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
async def database_url(tmp_data_dir: Path) -> AsyncIterator[str]:
    if BACKEND == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_data_dir / 'test.db'}"
        return
    if BACKEND != "postgresql":
        raise RuntimeError(f"unknown POSCRM_TEST_DATABASE={BACKEND!r}")
    async with postgres_database("poscrm_test") as url:
        yield url


@pytest.fixture(scope="session")
def settings(tmp_data_dir: Path, database_url: str) -> Settings:
    return Settings(
        data_dir=tmp_data_dir,
        database_url=database_url,
        redis_url=os.environ.get("POSCRM_TEST_REDIS_URL", ""),
        redis_prefix=f"poscrm-test-{uuid.uuid4().hex[:8]}",
        # Cheap hashes: the tests log in often; production keeps argon2's defaults.
        password_time_cost=1,
        password_memory_kib=1024,
        login_max_failures=3,
        outbox_relay_grace_seconds=0,
    )


@pytest.fixture(scope="session")
def migrated(settings: Settings) -> Settings:
    # The real path: Alembic, as `poscrm migrate` runs it (in a thread: env.py runs its own loop).
    import concurrent.futures

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pool.submit(upgrade, settings.effective_database_url).result()
    return settings


@pytest.fixture(scope="session")
async def app(migrated: Settings) -> AsyncIterator[Any]:
    application = create_app(migrated)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture(scope="session")
def runtime(app: Any) -> Runtime:
    return app.state.runtime  # type: ignore[no-any-return]


@pytest.fixture(scope="session")
def db(runtime: Runtime) -> Database:
    return runtime.db


@pytest.fixture(autouse=True)
async def _clean_state(request: pytest.FixtureRequest) -> AsyncIterator[None]:
    """Every test starts from the migrated state: empty tables but the head office."""
    uses_app = {"runtime", "app"} & set(request.fixturenames)
    runtime: Runtime | None = request.getfixturevalue("runtime") if uses_app else None
    yield
    if runtime is None:
        return
    async with runtime.db.write() as session:
        for table in reversed(Base.metadata.sorted_tables):
            if table.name == "stores":
                await session.execute(delete(Store).where(Store.is_head_office.is_(False)))
            elif table.name == "business_settings":
                await session.execute(update(BusinessSettings).values(**MIGRATED_SETTINGS))
            elif table.name == "sms_credit_balance":
                # A new database's balance (migration 0011): no credits.
                await session.execute(update(SmsCreditBalance).values(available=0, reserved=0))
            elif table.name == "marketing_signing_key":
                # The key lives as long as the database, as in production.
                continue
            else:
                await session.execute(table.delete())
    keys = [k async for k in runtime.redis.scan_iter(f"{runtime.settings.redis_prefix}:*")]
    if keys:
        await runtime.redis.delete(*keys)


@pytest.fixture
async def client(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://poscrm.test") as http:
        yield http


class GraphQLClient:
    """Posts operations to /graphql like a till or the back office would."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http

    async def __call__(
        self, query: str, variables: dict[str, Any] | None = None, *, token: str | None = None
    ) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        response = await self.http.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body


@pytest.fixture
def gql(client: httpx.AsyncClient) -> GraphQLClient:
    return GraphQLClient(client)


@pytest.fixture
def factory(runtime: Runtime) -> Factory:
    return Factory(runtime)


class StatementCounter:
    def __init__(self) -> None:
        self.statements: list[str] = []

    @property
    def count(self) -> int:
        return len(self.statements)


@pytest.fixture
def count_statements(db: Database) -> Any:
    """Counts SQL statements on both engines while the block runs."""

    @contextmanager
    def counting() -> Iterator[StatementCounter]:
        counter = StatementCounter()

        def before(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
            if not statement.startswith(("BEGIN", "PRAGMA", "SAVEPOINT", "RELEASE")):
                counter.statements.append(statement)

        engines = {id(e): e for e in (db.engine, db.write_engine)}.values()
        for engine in engines:
            event.listen(engine.sync_engine, "before_cursor_execute", before)
        try:
            yield counter
        finally:
            for engine in engines:
                event.remove(engine.sync_engine, "before_cursor_execute", before)

    return counting


@pytest.fixture
async def raw_sql(db: Database) -> Any:
    async def run(sql: str, **params: Any) -> list[Any]:
        async with db.read() as session:
            return list((await session.execute(text(sql), params)).all())

    return run
