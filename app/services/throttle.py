"""Failed-login throttling in Redis: shared by every API process, expires by itself."""

from __future__ import annotations

import hashlib

from redis.asyncio import Redis


class LoginThrottle:
    def __init__(
        self, redis: Redis, *, max_failures: int, lockout_seconds: int
    ) -> None:
        self.redis = redis
        self.max_failures = max_failures
        self.lockout_seconds = lockout_seconds

    @staticmethod
    def _keys(username: str, client: str) -> list[str]:
        # Hashed: usernames are personal data and stay out of Redis in clear.
        user = hashlib.sha256(username.encode()).hexdigest()[:32]
        return [f"poscrm:login-fail:user:{user}", f"poscrm:login-fail:client:{client}"]

    async def is_locked(self, username: str, client: str) -> bool:
        user_count, client_count = await self.redis.mget(self._keys(username, client))
        # A client gets more room than one account: a shop's tills share one address.
        return (
            int(user_count or 0) >= self.max_failures
            or int(client_count or 0) >= self.max_failures * 10
        )

    async def record_failure(self, username: str, client: str) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            for key in self._keys(username, client):
                pipe.incr(key)
                pipe.expire(key, self.lockout_seconds, nx=True)
            await pipe.execute()

    async def clear(self, username: str) -> None:
        await self.redis.delete(self._keys(username, "-")[0])
