"""The arq side of the outbox: enqueue a committed row with its id as the job id."""

from __future__ import annotations

from typing import Any

from arq import ArqRedis
from arq.connections import RedisSettings
from redis.asyncio import ConnectionPool
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError


def reconnecting() -> dict[str, Any]:
    """Connection options that survive a Redis restart (issue 9 §5).

    A pooled connection to a server that has died and been started again fails on its next
    command; one retry on a fresh connection makes that invisible. A Redis that is really
    away still fails fast: a unix socket or a closed port refuses at once.
    """
    return {"retry": Retry(NoBackoff(), 1), "retry_on_error": [RedisConnectionError]}


def redis_settings(url: str) -> RedisSettings:
    settings = RedisSettings.from_dsn(url)
    settings.conn_timeout = 2
    settings.conn_retries = 1
    options = reconnecting()
    settings.retry, settings.retry_on_error = options["retry"], options["retry_on_error"]
    return settings


class ArqJobQueue:
    def __init__(self, pool: ArqRedis, queue_name: str) -> None:
        self.pool = pool
        self.queue_name = queue_name

    @classmethod
    def connect(cls, url: str, queue_name: str) -> ArqJobQueue:
        """A queue on ``url``; connects on first use, so it starts while Redis is away
        (jobs then wait in the outbox for the relay)."""
        connections = ConnectionPool.from_url(url, socket_connect_timeout=2, **reconnecting())
        pool = ArqRedis(connections, default_queue_name=queue_name)
        return cls(pool, queue_name)

    async def enqueue(self, job_name: str, outbox_id: str) -> None:
        # job id = outbox id: arq drops a second enqueue while the first is queued or running.
        await self.pool.enqueue_job(
            job_name, outbox_id, _job_id=outbox_id, _queue_name=self.queue_name
        )

    async def close(self) -> None:
        await self.pool.aclose()
