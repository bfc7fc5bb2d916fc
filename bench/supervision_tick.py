"""What supervision costs a poscrm process: one tick of the embedded-Redis supervisor.

Usage: ``.venv/bin/python bench/supervision_tick.py [--ticks N]``.

A real embedded redis-server in a temporary folder, and two users of it in this process:
the owner (a tick asks whether its redis-server still runs: ``waitpid``) and a guest (a
tick tries to take the ownership over: one non-blocking ``flock``). Also the adopted case
(the owner's server started by another process: ``kill(pid, 0)`` and a read of
``/proc/<pid>/stat``), and the worker check ``/readyz`` adds (``Task.done()``). Each is
timed over ``--ticks`` ticks on the event loop; the supervisor runs one a second.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import time

import uvloop
from _common import temp_dir

from app.embedded_redis import EmbeddedRedis
from app.supervisor import RedisSupervisor


async def _time(check: RedisSupervisor, ticks: int) -> tuple[float, float]:
    """Median and p99 of one tick, in microseconds (batches of 100)."""
    per_tick = []
    for _ in range(max(1, ticks // 100)):
        started = time.perf_counter()
        for _ in range(100):
            await check.check()
        per_tick.append((time.perf_counter() - started) / 100 * 1e6)
    per_tick.sort()
    return statistics.median(per_tick), per_tick[int(len(per_tick) * 0.99) - 1]


async def main(ticks: int) -> None:
    data = temp_dir()
    owner, guest = EmbeddedRedis(data), EmbeddedRedis(data)
    try:
        await asyncio.to_thread(owner.start)
        await asyncio.to_thread(guest.start)
        rows = [
            ("owner (started it)", RedisSupervisor(owner, interval=1.0)),
            ("guest (another owns it)", RedisSupervisor(guest, interval=1.0)),
        ]
        for name, supervisor in rows:
            median, p99 = await _time(supervisor, ticks)
            print(f"{name:28} median {median:6.1f} µs  p99 {p99:6.1f} µs  per 1 s tick")
        # Adopted: the guest takes over the server another process started.
        owner.stop()
        supervisor = RedisSupervisor(guest, interval=1.0)
        await supervisor.check()
        assert guest.owner
        assert guest.running()
        median, p99 = await _time(supervisor, ticks)
        print(f"{'owner (adopted it)':28} median {median:6.1f} µs  p99 {p99:6.1f} µs  per 1 s tick")

        task = asyncio.create_task(asyncio.sleep(3600))
        started = time.perf_counter()
        for _ in range(ticks):
            task.done()
        print(
            f"{'worker check (/readyz)':28} {(time.perf_counter() - started) / ticks * 1e9:.0f} ns"
        )
        task.cancel()
    finally:
        guest.stop()
        owner.stop()
        shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--ticks", type=int, default=20_000)
    uvloop.run(main(parser.parse_args().ticks))
