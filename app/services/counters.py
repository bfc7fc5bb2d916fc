"""Counters per key and time window in Redis (shared by every API process, expiring by
themselves), kept in this process while Redis does not answer.

The login throttle and the customer-lookup limit count with these: a limit must hold
across processes, and must never turn into an outage when Redis is away.
"""

from __future__ import annotations

import logging
import time

from redis.asyncio import Redis
from redis.exceptions import RedisError

# INCR then EXPIRE if new, in one step: a crash between the two can't leave an immortal key.
# (EXPIRE ... NX would say the same but needs Redis 7; the embedded one is 6.2.)
_INCR_WITH_EXPIRY = """
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return n
"""


class _MemoryCounters:
    """The same counters in this process only: used while Redis does not answer."""

    def __init__(self) -> None:
        self.counts: dict[str, tuple[int, float]] = {}

    def incr(self, key: str, ttl: int) -> int:
        now = time.monotonic()
        count, expires = self.counts.get(key, (0, 0.0))
        if expires <= now:
            count, expires = 0, now + ttl
        self.counts[key] = (count + 1, expires)
        if len(self.counts) > 100_000:
            self.counts = {k: v for k, v in self.counts.items() if v[1] > now}
        return count + 1

    def get(self, key: str) -> int:
        count, expires = self.counts.get(key, (0, 0.0))
        return count if expires > time.monotonic() else 0

    def delete(self, key: str) -> None:
        self.counts.pop(key, None)


class WindowCounters:
    """``incr`` counts within a window that starts at a key's first count; ``get``, ``delete``.

    ``what`` names the user in the log, which says once per outage that the counters moved
    into the process (each process then counts on its own) and once that Redis is back.
    """

    def __init__(self, redis: Redis, *, what: str, log: logging.Logger) -> None:
        self.redis = redis
        self.what = what
        self.log = log
        self.memory = _MemoryCounters()
        self.redis_down = False

    def _fallback(self, error: Exception) -> None:
        if not self.redis_down:
            # Once per outage, not once per request.
            self.log.warning(
                "%s: Redis unavailable (%s); using in-process counters", self.what, error
            )
            self.redis_down = True

    def _recovered(self) -> None:
        if self.redis_down:
            self.log.warning("%s: Redis is back", self.what)
            self.redis_down = False

    async def incr(self, key: str, window_seconds: int) -> int:
        """The key's count in its window, this one included."""
        try:
            ttl = str(window_seconds)
            count = int(await self.redis.eval(_INCR_WITH_EXPIRY, 1, key, ttl))  # type: ignore[misc]
        except (RedisError, OSError) as error:
            self._fallback(error)
            return self.memory.incr(key, window_seconds)
        self._recovered()
        return count

    async def get(self, key: str) -> int:
        try:
            value = await self.redis.get(key)
        except (RedisError, OSError) as error:
            self._fallback(error)
            return self.memory.get(key)
        self._recovered()
        return int(value or 0)

    async def delete(self, key: str) -> None:
        self.memory.delete(key)
        try:
            await self.redis.delete(key)
        except (RedisError, OSError) as error:
            self._fallback(error)
