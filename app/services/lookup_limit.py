"""A limit on phone and email lookups by callers who see personal data masked (issue 9 §7).

A role without CUSTOMER_VIEW_PII sees a phone as its last four digits, yet search answers
whether a number it types belongs to someone. Search already refuses such callers a
number's beginning (customers.py), but every lookup is still a question about a number
or an address; counting them per caller bounds what probing can learn, however it probes.
"""

from __future__ import annotations

import logging

from redis.asyncio import Redis

from app.domain.errors import ErrorCode, reject
from app.domain.records import Actor
from app.services.counters import WindowCounters

log = logging.getLogger(__name__)


class LookupLimit:
    def __init__(self, redis: Redis, *, prefix: str, limit: int, window_seconds: int) -> None:
        self.prefix = prefix
        self.limit = limit
        self.window_seconds = window_seconds
        self.counters = WindowCounters(redis, what="lookup limit", log=log)

    async def count(self, actor: Actor) -> None:
        """Count one lookup by ``actor``; ``Rejected`` TOO_MANY_LOOKUPS past the limit."""
        caller = actor.caller_key
        count = await self.counters.incr(f"{self.prefix}:lookups:{caller}", self.window_seconds)
        if count <= self.limit:
            return
        if count == self.limit + 1:
            # Once per window: who and how many, never what was searched (personal data).
            log.warning(
                "customer lookups over the limit: caller %s made %d phone or email lookups"
                " in %d s without CUSTOMER_VIEW_PII",
                caller,
                count,
                self.window_seconds,
            )
        raise reject(
            ErrorCode.TOO_MANY_LOOKUPS,
            f"At most {self.limit} phone or email lookups per {self.window_seconds} s without"
            " CUSTOMER_VIEW_PII; try again shortly.",
            "search",
        )
