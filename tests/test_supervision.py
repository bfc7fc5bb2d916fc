"""Fault tests for supervision (issue 9 §5): kill Redis, kill the worker, stop a worker process.

Real processes throughout: each test starts its own app on an embedded Redis in a data
folder of its own and kills only the redis-server that it started there (never a shared
Redis), or points the app at a closed port. The database is the suite's, so these run on
both backends.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from sqlalchemy import event, text

from app.db.migrate import upgrade
from app.domain.permissions import Permission
from app.embedded_redis import EmbeddedRedis
from app.main import create_app
from app.runtime import Runtime
from app.settings import Settings
from tests.conftest import GraphQLClient
from tests.factories import Factory
from tests.gateway_servers import SmsReply, sms_provider
from tests.test_cli import ROOT, poscrm

LOGIN = """mutation($username: String!, $password: String!) {
  login(username: $username, password: $password) { token errors { code } }
}"""
REGISTER = """mutation($phone: String!, $email: String!) {
  customerCreate(input: {name: "Ada", phone: $phone, email: $email}) { errors { code } }
}"""


@pytest.fixture
async def own_db(migrated: Settings, data: Path) -> Settings:
    """On SQLite, a database file of the test's own for the app it starts and kills.

    These tests cancel a worker in the middle of its jobs. A job cut short inside SQLite's
    BEGIN IMMEDIATE can leave its connection holding the write lock until the collector
    frees it, and on the suite's file that once outlasted the busy timeout of the suite's
    own clean-up. PostgreSQL has no file lock: the suite's database does.
    """
    if not migrated.database_url.startswith("sqlite"):
        return migrated
    url = f"sqlite+aiosqlite:///{data / 'own.db'}"
    await asyncio.to_thread(upgrade, url)
    return migrated.model_copy(update={"database_url": url})


def _settings(migrated: Settings, data: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "data_dir": data,
        "database_url": migrated.database_url,
        "redis_url": "",
        "redis_prefix": f"poscrm-sv-{uuid.uuid4().hex[:8]}",
        "password_time_cost": 1,
        "password_memory_kib": 1024,
        "outbox_relay_grace_seconds": 0,
        "supervise_interval_seconds": 0.1,
    }
    return Settings(**{**values, **overrides})


@asynccontextmanager
async def serving(settings: Settings) -> AsyncIterator[tuple[GraphQLClient, Runtime]]:
    """The app with its in-process worker, over HTTP, as `poscrm serve` runs it."""
    app = create_app(settings, with_worker=True)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://poscrm.test") as http:
            yield GraphQLClient(http), app.state.runtime


async def eventually(check: Callable[[], Any], seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.02)


async def ready(gql: GraphQLClient) -> tuple[int, dict[str, Any]]:
    response = await gql.http.get("/readyz")
    return response.status_code, response.json()


async def login(gql: GraphQLClient, username: str, password: str) -> str:
    body = await gql(LOGIN, {"username": username, "password": password})
    assert "errors" not in body, body
    assert body["data"]["login"]["errors"] == []
    token: str = body["data"]["login"]["token"]
    return token


def messages(caplog: pytest.LogCaptureFixture, level: int, text: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == level and text in r.getMessage()]


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@pytest.fixture
def data(tmp_path_factory: pytest.TempPathFactory, runtime: Runtime) -> Path:
    # Short path: the embedded Redis listens on a unix socket inside it. (``runtime``: the
    # suite's clean-up then empties the tables these tests write.)
    return Path(tmp_path_factory.mktemp("sv"))


async def test_a_killed_embedded_redis_is_restarted_and_logged_and_all_still_works(
    own_db: Settings, data: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with serving(_settings(own_db, data)) as (gql, runtime):
        username, token = await Factory(runtime).staff(Permission.CUSTOMER_ADD)
        sent = data / "notifications.log"
        # The queue, the client and the worker hold connections to the server to be killed.
        registered = await gql(
            REGISTER, {"phone": "2125550100", "email": "ada@example.com"}, token=token
        )
        assert registered["data"]["customerCreate"]["errors"] == []
        await eventually(lambda: sent.exists() and "ada@example.com" in sent.read_text())
        assert await runtime.redis.ping()
        embedded = runtime.embedded_redis
        assert embedded is not None
        assert runtime.redis_supervisor is not None
        killed = embedded.pid
        assert killed is not None
        os.kill(killed, signal.SIGKILL)

        await eventually(lambda: runtime.redis_supervisor.restarts == 1)  # type: ignore[union-attr]
        assert embedded.pid != killed
        assert messages(caplog, logging.WARNING, f"redis-server (pid {killed}) died")
        assert messages(caplog, logging.WARNING, "redis-server restarted")
        assert await runtime.redis.ping()

        assert await login(gql, username, "correct-horse")
        registered = await gql(
            REGISTER, {"phone": "2125550111", "email": "bob@example.com"}, token=token
        )
        assert registered["data"]["customerCreate"]["errors"] == []
        # Enqueued at once on the reconnected queue, not left for the outbox relay.
        assert not messages(caplog, logging.WARNING, "enqueue failed")
        await eventually(lambda: "bob@example.com" in sent.read_text())
        status, checks = await ready(gql)
        # Subsets: /readyz may gain checks of its own (the pool's).
        assert (status, checks) == (200, checks | {"ready": True, "redis": True, "worker": True})


async def test_with_redis_dead_login_works_on_the_fallback_and_shutdown_is_clean(
    own_db: Settings, data: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # A long interval: the owner does not restart Redis within this test.
    settings = _settings(own_db, data, supervise_interval_seconds=60)
    disposed: list[object] = []
    async with serving(settings) as (gql, runtime):
        username, _ = await Factory(runtime).staff()
        for engine in {runtime.db.engine, runtime.db.write_engine}:
            event.listen(engine.sync_engine, "engine_disposed", disposed.append)
        embedded = runtime.embedded_redis
        assert embedded is not None
        assert embedded.pid is not None
        os.kill(embedded.pid, signal.SIGKILL)
        await eventually(lambda: not embedded.running())
        # The worker dies with Redis; its start-up jobs (aggregates, forecasts, the audit)
        # are stopped first, so a job cut short in SQLite is not what the logins below race.
        await eventually(lambda: not runtime.worker.alive)  # type: ignore[union-attr]
        assert messages(caplog, logging.ERROR, "arq worker died")

        for _ in range(3):
            assert await login(gql, username, "correct-horse")
        # Once per outage, not once per request.
        assert len(messages(caplog, logging.WARNING, "login throttle: Redis unavailable")) == 1
        status, checks = await ready(gql)
        assert status == 503
        assert checks["redis"] is False
        assert (await ready(gql))[1]["worker"] is False
        caplog.clear()
    # Closed with Redis gone: nothing raised, nothing failed, the database disposed.
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(disposed) == len({runtime.db.engine, runtime.db.write_engine})
    # And the ownership is free again for the next process.
    successor = EmbeddedRedis(data)
    assert successor.try_take_over()
    successor.stop()


async def test_with_an_unreachable_redis_the_app_starts_and_login_works(
    own_db: Settings, data: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = _settings(own_db, data, redis_url=f"redis://127.0.0.1:{closed_port()}/0")
    async with serving(settings) as (gql, runtime):
        assert messages(caplog, logging.WARNING, "Redis does not answer")
        username, _ = await Factory(runtime).staff()
        for _ in range(3):
            assert await login(gql, username, "correct-horse")
        assert len(messages(caplog, logging.WARNING, "login throttle: Redis unavailable")) == 1
        status, checks = await ready(gql)
        assert (status, checks["redis"]) == (503, False)
        # The worker cannot reach Redis either: it dies, is logged and is tried again.
        await eventually(lambda: messages(caplog, logging.ERROR, "arq worker died"))


async def test_a_killed_worker_task_is_logged_restarted_and_not_ready_meanwhile(
    own_db: Settings, data: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with serving(_settings(own_db, data, supervise_interval_seconds=0.5)) as (gql, rt):
        worker = rt.worker
        assert worker is not None
        assert worker.task is not None
        await eventually(lambda: worker.alive)
        assert (await ready(gql))[0] == 200
        worker.task.cancel()
        await eventually(lambda: not worker.alive)

        status, checks = await ready(gql)
        assert status == 503
        assert checks == checks | {"ready": False, "database": True, "redis": True, "worker": False}
        await eventually(lambda: messages(caplog, logging.ERROR, "arq worker was cancelled"))

        await eventually(lambda: worker.alive and worker.restarts == 1)
        assert messages(caplog, logging.WARNING, "arq worker: restarting in 0.5 s")
        assert (await ready(gql))[0] == 200


def test_an_owner_that_leaves_hands_the_running_server_on(tmp_path: Path) -> None:
    owner = EmbeddedRedis(tmp_path / "r")
    url = owner.start()
    guest = EmbeddedRedis(tmp_path / "r")
    try:
        assert guest.start() == url
        assert owner.owner
        assert not guest.owner
        server = owner.pid
        owner.stop()  # the guest still uses it: left running
        client = redis.Redis.from_url(url)
        assert client.ping()
        assert guest.try_take_over()
        guest.adopt_or_launch()
        assert guest.pid == server
        assert client.ping()
        client.close()
    finally:
        guest.stop()  # the last user, and now the owner: stops it
    with pytest.raises(redis.ConnectionError):
        redis.Redis.from_url(url).ping()


def _start(data: Path, log: Path, *args: str, **env: str) -> subprocess.Popen[bytes]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("POSCRM_")}
    environ.update(
        POSCRM_DATA_DIR=str(data),
        POSCRM_PASSWORD_MEMORY_KIB="1024",
        POSCRM_SUPERVISE_INTERVAL_SECONDS="0.1",
        **env,
    )
    with log.open("wb") as out:
        return subprocess.Popen(  # noqa: S603  (our own CLI)
            [sys.executable, "-m", "app.cli", *args],
            cwd=ROOT,
            env=environ,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def _wait_for(check: Callable[[], bool], seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def _answers(url: str) -> bool:
    try:
        with redis.Redis.from_url(url, socket_timeout=1) as client:
            return bool(client.ping())
    except (redis.RedisError, OSError):
        return False


def _ready(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def test_stopping_a_worker_process_leaves_the_servers_redis_running(tmp_path: Path) -> None:
    data = tmp_path / "d"
    assert poscrm(data, "migrate").returncode == 0
    url = EmbeddedRedis(data).url
    port = closed_port()
    worker_log, serve_log = tmp_path / "worker.log", tmp_path / "serve.log"
    worker = _start(data, worker_log, "worker")
    serve: subprocess.Popen[bytes] | None = None
    servers: set[int] = set()

    def server_pid() -> int:
        with redis.Redis.from_url(url) as client:
            pid = int(client.info("server")["process_id"])
        servers.add(pid)
        return pid

    try:
        _wait_for(lambda: _answers(url))  # the worker started first: it owns the Redis
        first = server_pid()
        serve = _start(data, serve_log, "serve", "--port", str(port))
        _wait_for(lambda: _ready(port))

        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=30) == 0, worker_log.read_text()
        assert "left running for the other poscrm processes" in worker_log.read_text()
        _wait_for(lambda: "this process owns it now" in serve_log.read_text(), 10)
        assert server_pid() == first
        assert _ready(port)

        # The new owner supervises it: killed, it is restarted and logged.
        os.kill(first, signal.SIGKILL)
        _wait_for(lambda: "redis-server restarted" in serve_log.read_text(), 10)
        _wait_for(lambda: _ready(port), 10)
        second = server_pid()

        serve.send_signal(signal.SIGTERM)
        # uvicorn shuts down, then ends by the signal it caught: a clean stop either way.
        assert serve.wait(timeout=30) in {0, -signal.SIGTERM}, serve_log.read_text()
        assert "Application shutdown complete" in serve_log.read_text()
        # The last user, and the owner: it stopped the server.
        assert not _answers(url)
        _wait_for(lambda: not _pid_exists(second), 10)
    finally:
        for process in (worker, serve):
            if process is not None and process.poll() is None:
                process.kill()
                process.wait()
        for pid in servers:  # only the servers of this test's data folder
            if _pid_exists(pid):
                os.kill(pid, signal.SIGKILL)


def _pid_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_a_worker_process_that_keeps_dying_exits_non_zero(tmp_path: Path) -> None:
    data = tmp_path / "d"
    assert poscrm(data, "migrate").returncode == 0
    log = tmp_path / "worker.log"
    worker = _start(
        data,
        log,
        "worker",
        POSCRM_REDIS_URL=f"redis://127.0.0.1:{closed_port()}/0",
        POSCRM_WORKER_RESTART_LIMIT="1",
    )
    try:
        assert worker.wait(timeout=60) == 1
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
    text = log.read_text()
    assert text.count("arq worker died: ") == 2
    assert "arq worker died 2 times in a row; giving up" in text
    assert "exiting with status 1" in text


async def test_a_worker_killed_mid_send_leaves_the_job_to_the_next_worker_without_a_duplicate(
    own_db: Settings, data: Path, runtime: Runtime, tmp_path: Path
) -> None:
    """SIGKILL a `poscrm worker` while the SMS provider holds its request; another finishes.

    The provider stalls on the first request, so the kill lands mid-send: the attempt is
    committed, its outcome never is. The job stays in arq's queue, marked in progress
    until the delivery job timeout (short here, through settings) plus arq's 10 s.
    """
    async with sms_provider() as provider:
        provider.replies = [SmsReply(delay=60)]
        settings = _settings(
            own_db,
            data,
            redis_url=runtime.redis_url,
            sms_gateway_url=provider.url,
            delivery_job_timeout_seconds=2,
        )
        env = {
            "POSCRM_DATABASE_URL": settings.database_url,
            "POSCRM_REDIS_URL": settings.redis_url,
            "POSCRM_REDIS_PREFIX": settings.redis_prefix,
            "POSCRM_SMS_GATEWAY_URL": provider.url,
            "POSCRM_DELIVERY_JOB_TIMEOUT_SECONDS": "2",
        }
        app = await Runtime.start(settings)
        try:
            factory = Factory(app)
            await factory.sms_credits(10)
            customer = await factory.customer(name="Bo", phone="+12125550177")
            first = _start(data, tmp_path / "first.log", "worker", **env)
            try:
                await eventually(lambda: len(provider.requests) == 1, 30)
                async with app.db.read() as session:
                    [(number, finished)] = (
                        await session.execute(
                            text("SELECT number, finished_at FROM notification_attempts")
                        )
                    ).all()
                assert (number, finished) == (1, None)  # recorded before the send
                first.send_signal(signal.SIGKILL)
                first.wait(10)
            finally:
                if first.poll() is None:
                    first.kill()
                    first.wait()

            second = _start(data, tmp_path / "second.log", "worker", **env)
            try:
                await eventually(lambda: len(provider.requests) == 2, 60)

                async def settled() -> tuple[Any, ...]:
                    async with app.db.read() as session:
                        return tuple(
                            (
                                await session.execute(
                                    text("SELECT id, status, attempts FROM notifications")
                                )
                            ).one()
                        )

                deadline = time.monotonic() + 30
                while (found := await settled())[1] != "SENT":
                    assert time.monotonic() < deadline, found
                    await asyncio.sleep(0.05)
                second.send_signal(signal.SIGTERM)
                assert second.wait(30) == 0, (tmp_path / "second.log").read_text()
            finally:
                if second.poll() is None:
                    second.kill()
                    second.wait()

            notification_id, status, attempts = found
            assert (status, attempts) == ("SENT", 2)
            async with app.db.read() as session:
                rows = (
                    await session.execute(
                        text(
                            "SELECT number, outcome, finished_at IS NULL "
                            "FROM notification_attempts ORDER BY number"
                        )
                    )
                ).all()
                [(processed,)] = (
                    await session.execute(text("SELECT processed_at IS NOT NULL FROM outbox"))
                ).all()
                credits = sorted(
                    (
                        await session.execute(text("SELECT kind, segments FROM sms_credit_ledger"))
                    ).all()
                )
            # The killed attempt stays open on record; the next one was sent.
            assert [tuple(r) for r in rows] == [(1, None, True), (2, "SENT", False)]
            assert processed
            # One key for the notification, one request per attempt: no attempt was sent
            # twice, and a provider that honours the key sends one SMS.
            key = str(uuid.UUID(str(notification_id)))
            sent = [
                (r.headers["idempotency-key"], r.headers["x-attempt"]) for r in provider.requests
            ]
            assert sent == [(key, "1"), (key, "2")]
            assert {r.json["to"] for r in provider.requests} == {customer.phone}
            # Spent once, for the attempt that went out.
            assert [kind for kind, _ in credits].count("SPEND") == 1
        finally:
            await app.close()
