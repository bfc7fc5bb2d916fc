"""Login throttling in Redis (shared by every API process, expires by itself), in memory without it.

An attempt is counted atomically *before* its password hash is checked, so however many
arrive at once, at most ``max_failures`` hashes are checked per username and address within
the window. The lock is keyed by username *and* address together: a stranger's failures from
another address never lock an account. The address alone is only slowed down.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time

from redis.asyncio import Redis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

# INCR then EXPIRE if new, in one step: a crash between the two can't leave an immortal key.
# (EXPIRE ... NX would say the same but needs Redis 7; the embedded one is 6.2.)
_INCR_WITH_EXPIRY = """
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return n
"""

# The delay per earlier failure from an address, and its cap: slows guessing, never locks.
DELAY_STEP_SECONDS = 0.1
MAX_DELAY_SECONDS = 2.0


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


class LoginThrottle:
    def __init__(
        self,
        redis: Redis,
        *,
        prefix: str,
        max_failures: int,
        lockout_seconds: int,
        delay_step_seconds: float = DELAY_STEP_SECONDS,
        max_delay_seconds: float = MAX_DELAY_SECONDS,
    ) -> None:
        self.redis = redis
        self.prefix = prefix
        self.max_failures = max_failures
        self.lockout_seconds = lockout_seconds
        self.delay_step_seconds = delay_step_seconds
        self.max_delay_seconds = max_delay_seconds
        self.memory = _MemoryCounters()
        self.redis_down = False

    def _attempt_key(self, username: str, client: str) -> str:
        # Hashed: usernames are personal data and stay out of Redis in clear.
        digest = hashlib.sha256(username.encode()).hexdigest()[:32]
        return f"{self.prefix}:login-attempt:{digest}:{client}"

    def _client_key(self, client: str) -> str:
        return f"{self.prefix}:login-fail:client:{client}"

    def _fallback(self, error: Exception) -> None:
        if not self.redis_down:
            # Once per outage, not once per login.
            log.warning("login throttle: Redis unavailable (%s); using in-process counters", error)
            self.redis_down = True

    def _recovered(self) -> None:
        if self.redis_down:
            log.warning("login throttle: Redis is back")
            self.redis_down = False

    async def _incr(self, key: str) -> int:
        try:
            ttl = str(self.lockout_seconds)
            count = int(await self.redis.eval(_INCR_WITH_EXPIRY, 1, key, ttl))  # type: ignore[misc]
        except (RedisError, OSError) as error:
            self._fallback(error)
            return self.memory.incr(key, self.lockout_seconds)
        self._recovered()
        return count

    async def _get(self, key: str) -> int:
        try:
            value = await self.redis.get(key)
        except (RedisError, OSError) as error:
            self._fallback(error)
            return self.memory.get(key)
        self._recovered()
        return int(value or 0)

    async def _delete(self, key: str) -> None:
        self.memory.delete(key)
        try:
            await self.redis.delete(key)
        except (RedisError, OSError) as error:
            self._fallback(error)

    async def attempt(self, username: str, client: str) -> bool:
        """Count an attempt and say whether its password may be checked.

        The address's earlier failures delay the answer first (growing, capped).
        """
        failures = await self._get(self._client_key(client))
        if failures:
            await asyncio.sleep(min(self.max_delay_seconds, self.delay_step_seconds * failures))
        return await self._incr(self._attempt_key(username, client)) <= self.max_failures

    async def record_failure(self, client: str) -> None:
        await self._incr(self._client_key(client))

    async def clear(self, username: str, client: str) -> None:
        await self._delete(self._attempt_key(username, client))
