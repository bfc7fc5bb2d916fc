"""What a stamped cache trusts (issue 12): its entry only while the Redis stamp it was read
under holds; nothing while Redis does not answer; nothing cached before an outage after it."""

from __future__ import annotations

import socket
import uuid
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from app.runtime import Runtime
from app.services.stamped_cache import StampedCache
from app.services.stamps import VersionStamps


class Source:
    """Stands for the database: counts the reads and answers the current value."""

    def __init__(self) -> None:
        self.value = "first"
        self.reads = 0

    async def load(self) -> tuple[str, None]:
        self.reads += 1
        return self.value, None


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@pytest.fixture
async def unreachable() -> AsyncIterator[Redis]:
    client = Redis.from_url(f"redis://127.0.0.1:{_closed_port()}/0", socket_connect_timeout=1)
    yield client
    await client.aclose()


def _stamps(runtime: Runtime, prefix: str) -> VersionStamps:
    # No pause after a failure: each read asks Redis again.
    return VersionStamps(runtime.redis, prefix=prefix, retry_seconds=0)


async def test_an_entry_is_trusted_until_another_process_bumps_the_stamp(
    runtime: Runtime,
) -> None:
    prefix = f"{runtime.settings.redis_prefix}:{uuid.uuid4().hex[:6]}"
    here, elsewhere = _stamps(runtime, prefix), _stamps(runtime, prefix)
    cache: StampedCache[str, str] = StampedCache(here, "t", max_age=60)
    source = Source()

    # No stamp yet: the first read sets one, and the entry is cached under it at once.
    assert await cache.get("k", source.load) == "first"
    assert await cache.get("k", source.load) == "first"
    reads = source.reads
    assert reads == 1
    assert await cache.get("k", source.load) == "first"
    assert source.reads == reads

    source.value = "second"
    await elsewhere.bump({"t"})
    assert await cache.get("k", source.load) == "second"
    assert source.reads == reads + 1

    # Redis emptied (a restart without persistence): the stamp is gone, and the new one
    # matches no entry: the database answers.
    await runtime.redis.delete(f"{prefix}:stamp:t")
    source.value = "third"
    assert await cache.get("k", source.load) == "third"


async def test_with_redis_unreachable_nothing_cached_is_trusted_then_or_after(
    runtime: Runtime, unreachable: Redis
) -> None:
    prefix = f"{runtime.settings.redis_prefix}:{uuid.uuid4().hex[:6]}"
    stamps = _stamps(runtime, prefix)
    cache: StampedCache[str, str] = StampedCache(stamps, "t", max_age=60)
    source = Source()
    for _ in range(3):
        await cache.get("k", source.load)
    reads = source.reads

    # The database changed and its bump was lost (made while Redis was away from us).
    source.value = "revoked"
    reachable, stamps.redis = stamps.redis, unreachable
    try:
        assert await cache.get("k", source.load) == "revoked"
        assert await cache.get("k", source.load) == "revoked"
        assert source.reads == reads + 2  # every request went to the database
    finally:
        stamps.redis = reachable
    # Redis answers again with the very stamp the old entry was cached under: the entry
    # was dropped at the failure, so the database answers.
    source.value = "current"
    assert await cache.get("k", source.load) == "current"


async def test_a_bump_that_cannot_reach_redis_still_drops_this_process_entries(
    runtime: Runtime, unreachable: Redis
) -> None:
    prefix = f"{runtime.settings.redis_prefix}:{uuid.uuid4().hex[:6]}"
    stamps = _stamps(runtime, prefix)
    cache: StampedCache[str, str] = StampedCache(stamps, "t", max_age=60)
    source = Source()
    for _ in range(2):
        await cache.get("k", source.load)

    source.value = "changed"
    reachable, stamps.redis = stamps.redis, unreachable
    try:
        await stamps.bump({"t"})
    finally:
        stamps.redis = reachable
    assert await cache.get("k", source.load) == "changed"
    await stamps.close()
