"""Supervision: what a poscrm process runs beside its work is restarted when it dies, and said so.

Issue 9 §5: the embedded Redis died and nothing started it again; the in-process worker
died without a log line while ``/readyz`` said ready. Two supervisors, one pattern:

- ``RedisSupervisor`` checks the embedded redis-server every ``interval`` seconds. The owner
  starts a new one when it has died; any other process takes over ownership when the owner
  has left (``app/embedded_redis.py``). A check is a ``waitpid`` (or ``kill(pid, 0)``) and a
  non-blocking ``flock``: a few microseconds a second.
- ``TaskSupervisor`` runs a coroutine (the arq worker) as a task and, when the task ends
  without being asked to, logs it at ERROR with its exception and starts it again, after a
  delay that doubles on each quick death. With a ``restart_limit`` it gives up after that
  many quick deaths in a row (``poscrm worker`` then exits non-zero for its service manager).

Both back off the same way: a thing that ran for ``stable_seconds`` before dying starts
again after ``interval``; one that keeps dying waits twice as long each time, up to
``max_delay``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Coroutine
from typing import Any

from app.embedded_redis import EmbeddedRedis

log = logging.getLogger(__name__)

MAX_DELAY_SECONDS = 30.0
STABLE_SECONDS = 60.0


class Backoff:
    """The delay before the next restart: doubles with each death soon after a start."""

    def __init__(self, base: float, *, max_delay: float, stable_seconds: float) -> None:
        self.base = base
        self.max_delay = max_delay
        self.stable_seconds = stable_seconds
        self.failures = 0
        self.started_at = time.monotonic()

    def started(self) -> None:
        self.started_at = time.monotonic()

    def died(self) -> float:
        """Count a death; the delay before the next start."""
        if time.monotonic() - self.started_at >= self.stable_seconds:
            self.failures = 0
        self.failures += 1
        return float(min(self.max_delay, self.base * 2 ** (self.failures - 1)))


class RedisSupervisor:
    """Keeps the embedded Redis of this data folder running while this process uses it."""

    def __init__(
        self,
        embedded: EmbeddedRedis,
        *,
        interval: float,
        max_delay: float = MAX_DELAY_SECONDS,
        stable_seconds: float = STABLE_SECONDS,
    ) -> None:
        self.embedded = embedded
        self.interval = interval
        self.backoff = Backoff(interval, max_delay=max_delay, stable_seconds=stable_seconds)
        self.restarts = 0
        self._task: asyncio.Task[None] | None = None
        # A start or adoption running in a thread: stop() waits for it, so a server being
        # started while the process shuts down is stopped too, not left behind.
        self._busy: asyncio.Future[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="embedded-redis-supervisor")

    async def _in_thread(self, work: Callable[[], None]) -> None:
        self._busy = asyncio.ensure_future(asyncio.to_thread(work))
        await asyncio.shield(self._busy)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.check()
            except Exception:
                # A failed restart is retried after the backoff; the loop itself never ends.
                delay = self.backoff.died()
                log.exception("embedded Redis: restart failed; trying again in %.1f s", delay)
                await asyncio.sleep(delay)

    async def check(self) -> None:
        """One supervision tick."""
        embedded = self.embedded
        if not embedded.owner:
            if not embedded.try_take_over():
                return
            await self._in_thread(embedded.adopt_or_launch)
            self.backoff.started()
            log.warning(
                "embedded Redis: its owner left; this process owns it now (pid %s)", embedded.pid
            )
            return
        if embedded.running():
            return
        pid, status = embedded.pid, embedded.exit_status()
        delay = self.backoff.died()
        log.warning(
            "embedded Redis: redis-server (pid %s) died (%s); restarting it in %.1f s",
            pid,
            status,
            delay,
        )
        await asyncio.sleep(delay - self.interval if delay > self.interval else 0)
        started = time.monotonic()
        await self._in_thread(embedded.launch)
        self.backoff.started()
        self.restarts += 1
        log.warning(
            "embedded Redis: redis-server restarted (pid %s) in %.0f ms",
            embedded.pid,
            (time.monotonic() - started) * 1000,
        )

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._busy is not None:
            await asyncio.wait({self._busy})


class TaskSupervisor:
    """Runs ``run()`` as a task and starts it again whenever it ends without ``stop()``."""

    def __init__(
        self,
        name: str,
        run: Callable[[], Coroutine[Any, Any, None]],
        *,
        interval: float,
        restart_limit: int | None = None,
        max_delay: float = MAX_DELAY_SECONDS,
        stable_seconds: float = STABLE_SECONDS,
    ) -> None:
        self.name = name
        self.run = run
        self.restart_limit = restart_limit
        self.backoff = Backoff(interval, max_delay=max_delay, stable_seconds=stable_seconds)
        self.restarts = 0
        self.task: asyncio.Task[None] | None = None
        self.gave_up = asyncio.Event()
        self._loop: asyncio.Task[None] | None = None
        self._stopping = False

    @property
    def alive(self) -> bool:
        return self.task is not None and not self.task.done()

    def start(self) -> None:
        self._loop = asyncio.create_task(self._supervise(), name=f"{self.name} supervisor")

    async def _supervise(self) -> None:
        while True:
            self.backoff.started()
            self.task = asyncio.create_task(self.run(), name=self.name)
            log.info("%s started", self.name)
            await asyncio.wait({self.task})
            if self._stopping:
                return
            self._log_death(self.task)
            delay = self.backoff.died()
            if self.restart_limit is not None and self.backoff.failures > self.restart_limit:
                log.error("%s died %d times in a row; giving up", self.name, self.backoff.failures)
                self.gave_up.set()
                return
            log.warning("%s: restarting in %.1f s", self.name, delay)
            await asyncio.sleep(delay)
            self.restarts += 1

    def _log_death(self, task: asyncio.Task[None]) -> None:
        if task.cancelled():
            log.error("%s was cancelled unexpectedly", self.name)
        elif (error := task.exception()) is not None:
            log.error("%s died: %r", self.name, error, exc_info=error)
        else:
            log.error("%s stopped unexpectedly", self.name)

    async def stop(self) -> None:
        """Stop the task (its own cleanup runs) and the supervision; never raises."""
        self._stopping = True
        for task in (self.task, self._loop):
            if task is not None and not task.done():
                task.cancel()
        for task in (self.task, self._loop):
            if task is not None:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
