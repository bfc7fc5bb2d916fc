"""The arq side of the outbox: enqueue a committed row with its id as the job id."""

from __future__ import annotations

from arq import ArqRedis, create_pool
from arq.connections import RedisSettings

QUEUE_NAME = "poscrm:queue"


def redis_settings(url: str) -> RedisSettings:
    settings = RedisSettings.from_dsn(url)
    settings.conn_timeout = 2
    settings.conn_retries = 1
    return settings


class ArqJobQueue:
    def __init__(self, pool: ArqRedis) -> None:
        self.pool = pool

    @classmethod
    async def connect(cls, url: str) -> ArqJobQueue:
        return cls(
            await create_pool(redis_settings(url), default_queue_name=QUEUE_NAME)
        )

    async def enqueue(self, job_name: str, outbox_id: str) -> None:
        # job id = outbox id: arq drops a second enqueue while the first is queued or running.
        await self.pool.enqueue_job(job_name, outbox_id, _job_id=outbox_id)

    async def close(self) -> None:
        await self.pool.aclose()
