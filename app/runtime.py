"""The process's shared resources: database, Redis, job queue, optionally an in-process worker."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Awaitable
from dataclasses import dataclass

from redis.asyncio import Redis
from sqlalchemy import text

from app.db.engine import Database
from app.db.repositories.staff import StaffRepository
from app.embedded_redis import EmbeddedRedis
from app.jobs.queue import ArqJobQueue, reconnecting
from app.jobs.worker import run_worker
from app.private_files import private_dir, warn_if_open
from app.services.lookup_limit import LookupLimit
from app.services.stamps import VersionStamps
from app.services.throttle import LoginThrottle
from app.services.unit_of_work import Transactions
from app.settings import Settings
from app.supervisor import RedisSupervisor, TaskSupervisor

log = logging.getLogger(__name__)

# How long /readyz waits for a pooled connection, and for Redis.
READY_WAIT_SECONDS = 0.5


@dataclass
class Runtime:
    settings: Settings
    db: Database
    redis_url: str
    redis: Redis
    queue: ArqJobQueue
    tx: Transactions
    throttle: LoginThrottle
    lookups: LookupLimit
    stamps: VersionStamps
    embedded_redis: EmbeddedRedis | None = None
    redis_supervisor: RedisSupervisor | None = None
    # The arq worker run by this process, if any (``serve`` on embedded Redis, ``worker``).
    worker: TaskSupervisor | None = None

    @classmethod
    async def start(
        cls,
        settings: Settings,
        *,
        with_worker: bool = False,
        worker_restart_limit: int | None = None,
        bounded: bool = True,
    ) -> Runtime:
        """Open the database and Redis and start what this process supervises.

        A dead worker is restarted; with ``worker_restart_limit``, only that many times in a
        row (then ``worker.gave_up`` is set), else for as long as the process runs.
        ``bounded`` puts the statement time limits on the database (a process that serves
        requests); ``poscrm worker`` runs without them.
        """
        warn_if_open(private_dir(settings.resolved_data_dir))
        embedded = None
        redis_url = settings.redis_url
        if settings.uses_embedded_redis:
            embedded = EmbeddedRedis(settings.resolved_data_dir)
            redis_url = await asyncio.to_thread(embedded.start)
        try:
            runtime = cls._connect(settings, redis_url, embedded, bounded=bounded)
        except BaseException:
            # Never leave an embedded redis-server behind a failed start.
            if embedded is not None:
                await asyncio.to_thread(embedded.stop)
            raise
        if embedded is not None:
            runtime.redis_supervisor = RedisSupervisor(
                embedded, interval=settings.supervise_interval_seconds
            )
            runtime.redis_supervisor.start()
        else:
            try:
                await runtime.redis.ping()
            except Exception as error:
                # Logins then count in this process and jobs wait in the outbox.
                log.warning("Redis does not answer (%s); starting without it", error)
        if with_worker:
            runtime.worker = TaskSupervisor(
                "arq worker",
                functools.partial(run_worker, settings, redis_url, db=runtime.db),
                interval=settings.supervise_interval_seconds,
                restart_limit=worker_restart_limit,
            )
            runtime.worker.start()
        return runtime

    @classmethod
    def _connect(
        cls,
        settings: Settings,
        redis_url: str,
        embedded: EmbeddedRedis | None,
        *,
        bounded: bool,
    ) -> Runtime:
        # The server's bounds: one request (or in-process job) never holds a pooled
        # connection for long. `poscrm worker` holds no caller's connections: unbounded.
        db = Database(
            settings.effective_database_url,
            read_timeout=settings.read_timeout_seconds if bounded else None,
            write_timeout=settings.write_timeout_seconds if bounded else None,
        )
        queue = ArqJobQueue.connect(redis_url, settings.queue_name)
        redis = Redis.from_url(
            redis_url, socket_timeout=2, socket_connect_timeout=2, **reconnecting()
        )
        stamps = VersionStamps(redis, prefix=settings.redis_prefix)
        return cls(
            settings=settings,
            db=db,
            redis_url=redis_url,
            redis=redis,
            queue=queue,
            tx=Transactions(db, queue, stamps, cache_seconds=settings.cache_max_age_seconds),
            throttle=LoginThrottle(
                redis,
                prefix=settings.redis_prefix,
                max_failures=settings.login_max_failures,
                lockout_seconds=settings.login_lockout_seconds,
            ),
            lookups=LookupLimit(
                redis,
                prefix=settings.redis_prefix,
                limit=settings.lookup_limit,
                window_seconds=settings.lookup_window_seconds,
            ),
            stamps=stamps,
            embedded_redis=embedded,
        )

    async def has_staff(self) -> bool:
        async with self.db.read() as session:
            return await StaffRepository(session).any_user()

    async def ready(self) -> dict[str, bool]:
        """Whether the pool has a connection free, the database and Redis answer, and this
        process's worker (if any) runs, now.

        Each check waits at most ``READY_WAIT_SECONDS``, so the probe answers within
        about that long whatever is stuck (an orchestrator's probe gives up after 1 s).
        """
        checks = {"database": False, "pool": False, "redis": False}
        with contextlib.suppress(Exception):
            async with asyncio.timeout(READY_WAIT_SECONDS):
                # A pool that lends no connection this long is exhausted (or cannot
                # connect): requests queue behind it and then fail.
                async with self.db.engine.connect() as connection:
                    checks["pool"] = True
                    await connection.execute(text("SELECT 1"))
                checks["database"] = True
        with contextlib.suppress(Exception):
            async with asyncio.timeout(READY_WAIT_SECONDS):
                checks["redis"] = bool(await self.redis.ping())
        if self.worker is not None:
            checks["worker"] = self.worker.alive
        return checks

    async def close(self) -> None:
        """Release what this process holds, in any state (Redis gone included); never raises.

        Each step runs whatever the one before it did: the database is always disposed
        and an embedded Redis this process owns is always stopped (or handed on).
        """
        if self.worker is not None:
            await _quietly("the worker", self.worker.stop())
        if self.redis_supervisor is not None:
            await _quietly("the Redis supervisor", self.redis_supervisor.stop())
        await _quietly("the cache stamps", self.stamps.close())
        await _quietly("the job queue", self.queue.close())
        await _quietly("the Redis client", self.redis.aclose())
        await _quietly("the database", self.db.dispose())
        if self.embedded_redis is not None:
            await _quietly("the embedded Redis", asyncio.to_thread(self.embedded_redis.stop))


async def _quietly(what: str, step: Awaitable[None]) -> None:
    try:
        await step
    except Exception:
        log.warning("shutdown: closing %s failed", what, exc_info=True)
