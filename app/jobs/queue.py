"""The arq side of the outbox: enqueue a committed row with its id as the job id."""

from __future__ import annotations

from arq import ArqRedis, create_pool
from arq.connections import RedisSettings


def redis_settings(url: str) -> RedisSettings:
    settings = RedisSettings.from_dsn(url)
    settings.conn_timeout = 2
    settings.conn_retries = 1
    return settings


class ArqJobQueue:
    def __init__(self, pool: ArqRedis, queue_name: str) -> None:
        self.pool = pool
        self.queue_name = queue_name

    @classmethod
    async def connect(cls, url: str, queue_name: str) -> ArqJobQueue:
        pool = await create_pool(redis_settings(url), default_queue_name=queue_name)
        return cls(pool, queue_name)

    async def enqueue(self, job_name: str, outbox_id: str) -> None:
        # job id = outbox id: arq drops a second enqueue while the first is queued or running.
        await self.pool.enqueue_job(
            job_name, outbox_id, _job_id=outbox_id, _queue_name=self.queue_name
        )

    async def close(self) -> None:
        await self.pool.aclose()
