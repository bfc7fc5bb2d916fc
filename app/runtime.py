"""The process's shared resources: database, Redis, job queue, optionally an in-process worker."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field

from redis.asyncio import Redis
from sqlalchemy import text

from app.db.engine import Database
from app.db.repositories.staff import StaffRepository
from app.embedded_redis import EmbeddedRedis
from app.jobs.queue import ArqJobQueue
from app.jobs.worker import build_worker
from app.private_files import private_dir, warn_if_open
from app.services.lookup_limit import LookupLimit
from app.services.throttle import LoginThrottle
from app.services.unit_of_work import Transactions
from app.settings import Settings

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
    embedded_redis: EmbeddedRedis | None = None
    _worker_task: asyncio.Task[None] | None = field(default=None, repr=False)
    _worker: object | None = field(default=None, repr=False)

    @classmethod
    async def start(cls, settings: Settings, *, with_worker: bool = False) -> Runtime:
        warn_if_open(private_dir(settings.resolved_data_dir))
        embedded = None
        redis_url = settings.redis_url
        if settings.uses_embedded_redis:
            embedded = EmbeddedRedis(settings.resolved_data_dir)
            redis_url = await asyncio.to_thread(embedded.start)
        try:
            runtime = await cls._connect(settings, redis_url, embedded)
        except BaseException:
            # Never leave an embedded redis-server behind a failed start.
            if embedded is not None:
                await asyncio.to_thread(embedded.stop)
            raise
        if with_worker:
            worker = build_worker(settings, redis_url, db=runtime.db)
            runtime._worker = worker
            runtime._worker_task = asyncio.create_task(worker.async_run())
            log.info("in-process worker started")
        return runtime

    @classmethod
    async def _connect(
        cls, settings: Settings, redis_url: str, embedded: EmbeddedRedis | None
    ) -> Runtime:
        # The server's bounds: one request (or in-process job) never holds a pooled
        # connection for long. The command line's imports and exports stay unbounded.
        db = Database(
            settings.effective_database_url,
            read_timeout=settings.read_timeout_seconds,
            write_timeout=settings.write_timeout_seconds,
        )
        queue = await ArqJobQueue.connect(redis_url, settings.queue_name)
        redis = Redis.from_url(redis_url, socket_timeout=2, socket_connect_timeout=2)
        return cls(
            settings=settings,
            db=db,
            redis_url=redis_url,
            redis=redis,
            queue=queue,
            tx=Transactions(db, queue),
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
            embedded_redis=embedded,
        )

    async def has_staff(self) -> bool:
        async with self.db.read() as session:
            return await StaffRepository(session).any_user()

    async def ready(self) -> dict[str, bool]:
        """Whether the pool has a connection free, the database and Redis answer, now.

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
        return checks

    async def close(self) -> None:
        if self._worker is not None and self._worker_task is not None:
            await self._worker.close()  # type: ignore[attr-defined]
            self._worker_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._worker_task
        await self.queue.close()
        await self.redis.aclose()
        await self.db.dispose()
        if self.embedded_redis is not None:
            await asyncio.to_thread(self.embedded_redis.stop)
