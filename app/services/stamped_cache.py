"""An in-process cache of database reads, trusted only while a Redis version stamp holds."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Generic, TypeVar

from app.services.stamps import VersionStamps

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

# A found value and until when it may be used at all (a token's expiry), or None.
Loaded = tuple[V, datetime | None]


@dataclass(frozen=True, slots=True)
class _Entry(Generic[V]):
    value: V
    expires_at: datetime | None
    stamp: str
    generation: int
    stored_at: float


class StampedCache(Generic[K, V]):
    """``get`` answers from memory while the stamp ``name`` still has the value it had
    before the entry was read from the database; otherwise it loads again.

    The stamp is read before the database: a change that commits after our read bumps
    the stamp after our read of it, so the next ``get`` sees a new value and reloads.
    ``max_age`` bounds an entry's life whatever the stamp says (a bump lost while Redis
    was unreachable from the process that made the change). Only found values are kept:
    a miss is asked again, so a new token works at once.
    """

    def __init__(
        self,
        stamps: VersionStamps | None,
        name: str,
        *,
        max_age: float,
        max_entries: int = 10_000,
    ) -> None:
        self.stamps = stamps
        self.name = name
        self.max_age = max_age
        self.max_entries = max_entries
        self._entries: dict[K, _Entry[V]] = {}

    async def get(self, key: K, load: Callable[[], Awaitable[Loaded[V] | None]]) -> V | None:
        stamps = self.stamps
        if stamps is None or self.max_age <= 0:
            loaded = await load()
            return loaded[0] if loaded else None
        generation = stamps.generation
        stamp = await stamps.read(self.name)
        if stamp is not None and generation == stamps.generation:
            entry = self._entries.get(key)
            if entry is not None and self._fresh(entry, stamp, generation):
                return entry.value
        loaded = await load()
        if loaded is None:
            self._entries.pop(key, None)
            return None
        value, expires_at = loaded
        if stamp is not None and generation == stamps.generation:
            if len(self._entries) >= self.max_entries:
                self._entries.clear()
            self._entries[key] = _Entry(value, expires_at, stamp, generation, time.monotonic())
        return value

    def _fresh(self, entry: _Entry[V], stamp: str, generation: int) -> bool:
        return (
            entry.stamp == stamp
            and entry.generation == generation
            and time.monotonic() - entry.stored_at < self.max_age
            and (entry.expires_at is None or datetime.now(UTC) < entry.expires_at)
        )
