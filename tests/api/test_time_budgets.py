"""A statement past its time budget is stopped (issue 9 §3): QUERY_TIMEOUT, never INTERNAL,
and its connection goes back to the pool healthy. Also: /readyz says so when the pool is
exhausted, and answers at once while it is."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncConnection

from app.db.engine import Database
from app.domain.permissions import Permission
from app.main import create_app
from app.settings import Settings
from tests.conftest import GraphQLClient

READ_BUDGET = 0.3
WRITE_BUDGET = 0.6
# Far longer than any budget, yet finite: without the rule a test fails on its own
# deadline (FAIL_AFTER) instead of hanging.
SLOW = {
    "sqlite": "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 30000000)"
    " SELECT max(x) AS n FROM c",
    "postgresql": "SELECT pg_sleep(10) AS n",
}
FAIL_AFTER = 8

SETTINGS = "{ businessSettings { defaultPhoneRegion } }"
SETTINGS_UPDATE = """mutation { businessSettingsUpdate(input: {defaultPhoneRegion: "GB"}) {
  businessSettings { defaultPhoneRegion } errors { code } } }"""


@pytest.fixture
async def budgeted(migrated: Settings, app: Any) -> AsyncIterator[tuple[GraphQLClient, Database]]:
    """The app with small budgets, on the same database as the session's app."""
    settings = migrated.model_copy(
        update={"read_timeout_seconds": READ_BUDGET, "write_timeout_seconds": WRITE_BUDGET}
    )
    budgeted_app = create_app(settings)
    async with budgeted_app.router.lifespan_context(budgeted_app):
        transport = httpx.ASGITransport(app=budgeted_app)
        async with httpx.AsyncClient(transport=transport, base_url="http://poscrm.test") as http:
            yield GraphQLClient(http), budgeted_app.state.runtime.db


@contextmanager
def slowed_reads(db: Database, table: str = "business_settings") -> Iterator[list[str]]:
    """Every statement reading ``table`` also runs a very slow one first."""
    slowed: list[str] = []
    slow = SLOW[db.dialect]

    def rewrite(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> Any:
        if f"FROM {table}" in statement and statement.lstrip().startswith("SELECT"):
            slowed.append(statement)
            statement = f"SELECT q.* FROM ({statement}) AS q, ({slow}) AS s WHERE s.n IS NOT NULL"  # noqa: S608 (our own statements)
        return statement, parameters

    engines = {id(e): e for e in (db.engine, db.write_engine)}.values()
    for engine in engines:
        event.listen(engine.sync_engine, "before_cursor_execute", rewrite, retval=True)
    try:
        yield slowed
    finally:
        for engine in engines:
            event.remove(engine.sync_engine, "before_cursor_execute", rewrite)


@contextmanager
def pool_losses(db: Database) -> Iterator[list[str]]:
    """Connections the pools threw away (invalidated or closed) while the block ran."""
    lost: list[str] = []

    def invalidated(*_: Any) -> None:
        lost.append("invalidate")

    def closed(*_: Any) -> None:
        lost.append("close")

    pools = {id(e.pool): e.pool for e in (db.engine, db.write_engine)}.values()
    for pool in pools:
        event.listen(pool, "invalidate", invalidated)
        event.listen(pool, "close", closed)
    try:
        yield lost
    finally:
        for pool in pools:
            event.remove(pool, "invalidate", invalidated)
            event.remove(pool, "close", closed)


def test_the_budgets_are_settings_of_a_few_seconds(monkeypatch: pytest.MonkeyPatch) -> None:
    assert 1 <= Settings().read_timeout_seconds <= 10
    assert Settings().write_timeout_seconds >= Settings().read_timeout_seconds
    monkeypatch.setenv("POSCRM_READ_TIMEOUT_SECONDS", "2.5")
    assert Settings().read_timeout_seconds == 2.5


async def test_a_slow_read_is_stopped_with_query_timeout_and_the_pool_stays_healthy(
    budgeted, factory, caplog: pytest.LogCaptureFixture
) -> None:
    gql, db = budgeted
    token = await factory.token()
    with pool_losses(db) as lost, slowed_reads(db) as slowed:
        started = time.perf_counter()
        body = await asyncio.wait_for(gql(SETTINGS, token=token), FAIL_AFTER)
        took = time.perf_counter() - started
    assert slowed, "the slow statement never ran"
    assert body["data"] is None
    [error] = body["errors"]
    assert error["extensions"]["code"] == "QUERY_TIMEOUT"
    assert error["path"] == ["businessSettings"]
    assert READ_BUDGET <= took < READ_BUDGET + 2
    assert not [r for r in caplog.records if r.exc_info], "a timeout is no traceback"
    # Back in the pool, not thrown away, and every connection answers at once.
    assert lost == []
    assert db.engine.pool.checkedout() == 0
    for _ in range(db.engine.pool.checkedin() + 1):
        answer = await asyncio.wait_for(gql(SETTINGS, token=token), FAIL_AFTER)
        assert answer["data"] == {"businessSettings": {"defaultPhoneRegion": "US"}}


async def test_a_write_gets_its_own_looser_budget_and_changes_nothing(
    budgeted, factory, raw_sql
) -> None:
    gql, db = budgeted
    token = await factory.token(Permission.SETTINGS_MANAGE)
    with pool_losses(db) as lost, slowed_reads(db) as slowed:
        started = time.perf_counter()
        body = await asyncio.wait_for(gql(SETTINGS_UPDATE, token=token), FAIL_AFTER)
        took = time.perf_counter() - started
    assert slowed
    [error] = body["errors"]
    assert error["extensions"]["code"] == "QUERY_TIMEOUT"
    # The write bound, not the read one, stopped it.
    assert WRITE_BUDGET <= took < WRITE_BUDGET + 2
    assert await raw_sql("SELECT default_phone_region FROM business_settings") == [("US",)]
    assert lost == []
    body = await asyncio.wait_for(gql(SETTINGS_UPDATE, token=token), FAIL_AFTER)
    assert body["data"]["businessSettingsUpdate"] == {
        "businessSettings": {"defaultPhoneRegion": "GB"},
        "errors": [],
    }


async def test_a_slow_token_lookup_is_a_503_with_query_timeout_not_a_500(budgeted, factory) -> None:
    gql, db = budgeted
    token = await factory.token()
    with slowed_reads(db, "auth_tokens") as slowed:
        response = await asyncio.wait_for(
            gql.http.post(
                "/graphql",
                json={"query": SETTINGS},
                headers={"Authorization": f"Bearer {token}"},
            ),
            FAIL_AFTER,
        )
    assert slowed
    assert response.status_code == 503
    assert response.headers["retry-after"] == "1"
    assert response.json()["errors"][0]["extensions"]["code"] == "QUERY_TIMEOUT"


async def test_a_fast_query_is_untouched_by_the_budget(budgeted, factory) -> None:
    gql, _ = budgeted
    token = await factory.token()
    body = await gql(SETTINGS, token=token)
    assert body == {"data": {"businessSettings": {"defaultPhoneRegion": "US"}}} | {
        k: v for k, v in body.items() if k == "extensions"
    }


async def _hold_every_connection(db: Database) -> list[AsyncConnection]:
    held: list[AsyncConnection] = []
    for _ in range(100):
        try:
            async with asyncio.timeout(0.3):
                held.append(await db.engine.connect())
        except TimeoutError:
            return held
    raise AssertionError("the pool never ran out")


async def test_readyz_is_not_ready_while_the_pool_is_exhausted(client, db) -> None:
    held = await _hold_every_connection(db)
    try:
        started = time.perf_counter()
        response = await asyncio.wait_for(client.get("/readyz"), FAIL_AFTER)
        took = time.perf_counter() - started
        assert response.status_code == 503
        assert response.json()["pool"] is False
        assert response.json()["ready"] is False
        assert took < 2, "the probe itself must not hang"
    finally:
        for connection in held:
            await connection.close()
    response = await client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["pool"] is True
