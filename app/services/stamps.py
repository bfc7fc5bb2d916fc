"""Version stamps in Redis: how every process learns that what it cached went stale.

A stamp is a random value under a key (``<prefix>:stamp:<name>``). Whatever changes the
cached state sets a new value after its transaction commits (``bump``); a cache keeps, with
each entry, the value it read *before* it read the database, and trusts the entry only
while Redis still holds that value. So one GET per use tells every process, on the next
request, what any process changed.

Random values, not a counter: a Redis that restarted empty and was bumped again can
never come back to a value an old entry holds. A missing key (a new or emptied Redis) is
set to a new value at the first read, which no old entry holds either.

When Redis does not answer, ``read`` says None and caches fall back to the database:
never to what they held. Each failure moves ``generation`` on, which drops every entry
cached before it (a bump made elsewhere meanwhile may have been lost to us). After a
failure Redis is left alone for ``retry_seconds``, so an unreachable Redis costs the
requests nothing but their database lookups. A bump that failed is retried in the
background until it lands; until then the caches' ``max_age`` bounds what another
process may still trust (docs/security.md "Cached grants").
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from contextvars import ContextVar, Token

from redis.asyncio import Redis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

# Names of the stamps; each guards one in-process cache.
AUTH = "auth"
BUSINESS_SETTINGS = "business-settings"
WEBHOOK_SUBSCRIPTIONS = "webhook-subscriptions"
LOYALTY_TIERS = "loyalty-tiers"
NAMES = (AUTH, BUSINESS_SETTINGS, WEBHOOK_SUBSCRIPTIONS, LOYALTY_TIERS)

# The stamps one request has read (``hold_stamps``): a till's phone search needs both the
# caller's grant and the settings, a sale the grant, the settings and the webhook
# subscriptions; each reads them all in one Redis round trip.
_held: ContextVar[dict[str, str | None] | None] = ContextVar("stamps_held", default=None)


def hold_stamps() -> Token[dict[str, str | None] | None]:
    """At the start of one HTTP request: its stamps are read once, together, at their first
    use. Give the token back to ``release_stamps`` when the request ends."""
    return _held.set({})


def release_stamps(token: Token[dict[str, str | None] | None]) -> None:
    _held.reset(token)


RETRY_SECONDS = 1.0
# A stamp read that takes longer is a failure: the request reads the database instead of
# waiting out the client's socket timeout (a Redis that hangs rather than refuses).
READ_TIMEOUT_SECONDS = 0.5


class VersionStamps:
    def __init__(self, redis: Redis, *, prefix: str, retry_seconds: float = RETRY_SECONDS) -> None:
        self.redis = redis
        self.prefix = prefix
        self.retry_seconds = retry_seconds
        # Moves on at every Redis failure: entries cached under an older one are dropped.
        self.generation = 0
        self._down_until = 0.0
        self._pending: set[str] = set()
        self._retrying: asyncio.Task[None] | None = None

    def _key(self, name: str) -> str:
        return f"{self.prefix}:stamp:{name}"

    def _failed(self, what: str, error: Exception) -> None:
        if self._down_until == 0.0:
            log.warning(
                "Redis does not answer (%s: %s); caches fall back to the database", what, error
            )
        self.generation += 1
        self._down_until = time.monotonic() + self.retry_seconds

    async def read(self, name: str) -> str | None:
        """The stamp's value now, or None: then trust nothing cached under ``name``.

        Inside a request (``hold_stamps``) the first read fetches every stamp in one round trip and
        the rest of the request uses those values: each was still read before any
        database read the request makes, which is all a cache entry needs."""
        held = _held.get()
        if held is None:
            return (await self._read((name,)))[name]
        if name not in held:
            held.update(await self._read(NAMES))
        return held.get(name)

    async def _read(self, names: tuple[str, ...]) -> dict[str, str | None]:
        if self._down_until and time.monotonic() < self._down_until:
            return dict.fromkeys(names)
        try:
            async with asyncio.timeout(READ_TIMEOUT_SECONDS):
                values = await self.redis.mget([self._key(n) for n in names])
                missing = [i for i, v in enumerate(values) if v is None]
                if missing:
                    # No stamp yet (or an emptied Redis): set one, unless another process
                    # just did, and read back whichever holds. It is still read before the
                    # database, so entries may start from it at once.
                    async with self.redis.pipeline(transaction=False) as pipe:
                        for i in missing:
                            pipe.set(self._key(names[i]), secrets.token_hex(8), nx=True)
                            pipe.get(self._key(names[i]))
                        answers = await pipe.execute()
                    for i, value in zip(missing, answers[1::2], strict=True):
                        values[i] = value
        except (RedisError, OSError, TimeoutError) as error:
            self._failed("reading a stamp", error)
            return dict.fromkeys(names)
        if self._down_until:
            log.warning("Redis answers again; caches are trusted again")
            self._down_until = 0.0
        return {
            n: v.decode() if isinstance(v, bytes) else v for n, v in zip(names, values, strict=True)
        }

    async def bump(self, names: set[str]) -> None:
        """Give each stamp a new value: every process's entries under them go stale."""
        # Entries of this process go stale at once, whatever Redis does.
        self.generation += 1
        try:
            await self._set(names | self._pending)
        except (RedisError, OSError) as error:
            self._failed("bumping a stamp", error)
            self._pending |= names
            if self._retrying is None or self._retrying.done():
                self._retrying = asyncio.create_task(self._retry())
            return
        self._pending.clear()

    async def _set(self, names: set[str]) -> None:
        async with self.redis.pipeline(transaction=False) as pipe:
            for name in sorted(names):
                pipe.set(self._key(name), secrets.token_hex(8))
            await pipe.execute()

    async def _retry(self) -> None:
        delay = max(self.retry_seconds, 0.1)
        while self._pending:
            await asyncio.sleep(delay)
            pending = set(self._pending)
            try:
                await self._set(pending)
            except (RedisError, OSError):
                delay = min(delay * 2, 30.0)
                continue
            self._pending -= pending
            log.warning("stamps bumped while Redis was away are set now: %s", sorted(pending))

    async def close(self) -> None:
        if self._retrying is not None:
            self._retrying.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._retrying
