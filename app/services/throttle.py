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

from redis.asyncio import Redis

from app.services.counters import WindowCounters

log = logging.getLogger(__name__)

# The delay per earlier failure from an address, and its cap: slows guessing, never locks.
DELAY_STEP_SECONDS = 0.1
MAX_DELAY_SECONDS = 2.0


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
        self.counters = WindowCounters(redis, what="login throttle", log=log)

    def _attempt_key(self, username: str, client: str) -> str:
        # Hashed: usernames are personal data and stay out of Redis in clear.
        digest = hashlib.sha256(username.encode()).hexdigest()[:32]
        return f"{self.prefix}:login-attempt:{digest}:{client}"

    def _client_key(self, client: str) -> str:
        return f"{self.prefix}:login-fail:client:{client}"

    async def attempt(self, username: str, client: str) -> bool:
        """Count an attempt and say whether its password may be checked.

        The address's earlier failures delay the answer first (growing, capped).
        """
        failures = await self.counters.get(self._client_key(client))
        if failures:
            await asyncio.sleep(min(self.max_delay_seconds, self.delay_step_seconds * failures))
        count = await self.counters.incr(self._attempt_key(username, client), self.lockout_seconds)
        return count <= self.max_failures

    async def record_failure(self, client: str) -> None:
        await self.counters.incr(self._client_key(client), self.lockout_seconds)

    async def clear(self, username: str, client: str) -> None:
        await self.counters.delete(self._attempt_key(username, client))
