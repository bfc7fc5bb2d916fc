"""Failed-login throttling in Redis: shared by every API process, expires by itself."""

from __future__ import annotations

import hashlib

from redis.asyncio import Redis


class LoginThrottle:
    def __init__(
        self, redis: Redis, *, prefix: str, max_failures: int, lockout_seconds: int
    ) -> None:
        self.redis = redis
        self.prefix = prefix
        self.max_failures = max_failures
        self.lockout_seconds = lockout_seconds

    def _user_key(self, username: str) -> str:
        # Hashed: usernames are personal data and stay out of Redis in clear.
        digest = hashlib.sha256(username.encode()).hexdigest()[:32]
        return f"{self.prefix}:login-fail:user:{digest}"

    def _client_key(self, client: str) -> str:
        return f"{self.prefix}:login-fail:client:{client}"

    async def is_locked(self, username: str, client: str) -> bool:
        user_count, client_count = await self.redis.mget(
            [self._user_key(username), self._client_key(client)]
        )
        # A client gets more room than one account: a shop's tills may share one address.
        return (
            int(user_count or 0) >= self.max_failures
            or int(client_count or 0) >= self.max_failures * 10
        )

    async def record_failure(self, username: str, client: str) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            for key in (self._user_key(username), self._client_key(client)):
                # The window starts at the first failure (SET NX), then only counts;
                # EXPIRE ... NX would say the same but needs Redis 7, the embedded one is 6.2.
                pipe.set(key, 0, ex=self.lockout_seconds, nx=True)
                pipe.incr(key)
            await pipe.execute()

    async def clear(self, username: str) -> None:
        await self.redis.delete(self._user_key(username))
